#!/bin/sh
# agent_password: the Windows agent never puts its broker password on
# mosquitto_pub's command line (every user of a PC can read command lines).
#   1. mamori-agent.ps1 passes no -P/--pw to mosquitto_pub;
#   2. the way it passes them instead works with mosquitto_pub 2.0: a
#      config file of "-u LOGIN" / "-P PASSWORD" lines that mosquitto_pub
#      reads before its arguments (%USERPROFILE%\mosquitto_pub.conf on
#      Windows; here $XDG_CONFIG_HOME/mosquitto_pub, the same code).  With
#      pwsh the file is made by the agent's own New-MamoriPubConfig,
#      without it in the same format.  Against contrib/mosquitto's settings:
#      a report published that way arrives, with a password containing
#      spaces and punctuation; the running mosquitto_pub's command line
#      holds no password; the same publish without the file is refused.
. tests/integration/lib.sh
it_init
A=contrib/agent/windows/mamori-agent.ps1

# 1. no password argument in the agent
if grep -nE "'-P'|\"-P\"|--pw\b" "$A"; then
	it_fail "mamori-agent.ps1 passes the password on mosquitto_pub's command line"
fi
grep -q 'New-MamoriPubConfig' "$A" || it_fail "mamori-agent.ps1 has no New-MamoriPubConfig"

# 2. the config file mechanism, with the shipped broker settings
[ -r /proc/self/cmdline ] || it_skip "no /proc to read command lines"
login=c0001/PC-001
password='pa ss:w#rd "x" -P'
it_mosquitto_shipped mamorid
mosquitto_passwd -b "$IT_TMP/passwd" "$login" "$password" || it_fail "mosquitto_passwd"
kill -HUP "$MOSQ_PID" # re-read the password file
mkdir -p "$IT_TMP/cfg"
if command -v pwsh >/dev/null 2>&1; then
	cat >"$IT_TMP/mk.ps1" <<PS1
. ./$A
[System.IO.File]::WriteAllText('$IT_TMP/cfg/mosquitto_pub', (New-MamoriPubConfig '$login' '$(printf '%s' "$password" | sed "s/'/''/g")'),
                               (New-Object System.Text.UTF8Encoding \$false))
PS1
	pwsh -NoProfile -File "$IT_TMP/mk.ps1" || it_fail "New-MamoriPubConfig failed"
else
	echo "pwsh not installed: config file written in New-MamoriPubConfig's format" >&2
	printf -- '-u %s\n-P %s\n' "$login" "$password" >"$IT_TMP/cfg/mosquitto_pub"
fi
chmod 0600 "$IT_TMP/cfg/mosquitto_pub"

it_bg server mosquitto_sub -h 127.0.0.1 -p "$port" -q 1 -u mamorid -P secret-mamorid \
	-t 'mamori/v1/agents/#' -v
topic=mamori/v1/agents/$login/defender
# the agent's arguments, minus what is in the file
pub() { # payload-from-stdin (exec: in the background, $! is mosquitto_pub)
	exec mosquitto_pub -h 127.0.0.1 -p "$port" -q 1 -i "$login" \
		--will-topic "mamori/v1/agents/$login/status" --will-payload offline --will-qos 1 \
		--will-retain -t "$topic" -s
}
ready() {
	echo ready | (XDG_CONFIG_HOME=$IT_TMP/cfg pub) && grep -q "$topic ready" "$IT_TMP/server.log"
}
it_wait_for 10 ready || it_fail "publish with the config file failed: $(tail -3 "$IT_TMP/mosquitto.log")"

# While mosquitto_pub waits for its payload on stdin, read its command line.
mkfifo "$IT_TMP/stdin"
XDG_CONFIG_HOME=$IT_TMP/cfg pub <"$IT_TMP/stdin" >"$IT_TMP/pub.out" 2>&1 &
pub_pid=$!
exec 3>"$IT_TMP/stdin"
sleep 0.3
tr '\0' ' ' <"/proc/$pub_pid/cmdline" >"$IT_TMP/cmdline" || it_fail "cannot read mosquitto_pub's command line"
grep -q -- "-t $topic" "$IT_TMP/cmdline" || it_fail "not mosquitto_pub's command line: $(cat "$IT_TMP/cmdline")"
grep -qF 'pa ss' "$IT_TMP/cmdline" && it_fail "password on the command line: $(cat "$IT_TMP/cmdline")"
echo report-via-config-file >&3
exec 3>&-
wait "$pub_pid" || it_fail "mosquitto_pub failed: $(cat "$IT_TMP/pub.out")"
it_wait_for 5 grep -q "$topic report-via-config-file" "$IT_TMP/server.log" || it_fail "report not delivered"

# Without the file there is no login: refused.
if echo no-file | (XDG_CONFIG_HOME=$IT_TMP/none HOME=$IT_TMP/none pub 2>/dev/null); then
	it_fail "publish without credentials accepted"
fi
echo "PASS agent_password"
exit 0
