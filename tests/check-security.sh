#!/bin/sh
# make check-security: the security tests in one go, then a leak check.
#
#   1. Runs the integration tests about attackers and failures (SEC_TESTS
#      below, or the names in $IT), each keeping its work directory
#      (IT_KEEP=1) under one fresh directory.
#   2. Collects the secrets those tests made: every regular file of mode
#      0600 in the work directories (the tests write secrets 0600, as
#      mamorid demands) and the fixtures' passwords; each line of at
#      least 8 characters that is not a PEM armour line is a secret.
#   3. Fails if any secret appears in any log or output file
#      (*.log, *.out, *.err, *.txt) of any test, naming the file and the
#      secret file it came from (not the secret).
# Ends with "check-security: N passed, N failed, N skipped; S secrets
# looked for in L files: none found" (or the leaks).
SEC_TESTS="mqtt_takeover mqtt_acl mqtt_retain mqtt_limits mqtt_slow_subscriber mqtt_tls agent_password perms http_auth http_hostile
http_tls tls_clients privdrop systemd_unit broker_restart disk_full clock_jump alerts_kill9 isolate isolate_memory"
work=$(mktemp -d "${TMPDIR:-/tmp}/mamori-check-security.XXXXXX")
# the brokers and the privilege-drop test run as other users: they must
# reach the tests' directories below this one
chmod 755 "$work"
tests=""
for n in ${IT:-$SEC_TESTS}; do
	tests="$tests tests/integration/$n.sh"
done
TMPDIR=$work IT_KEEP=1 IT="$tests" sh tests/run-integration.sh | tee "$work/summary"
rc=$?
python3 - "$work" <<'PY' || rc=1
import os, stat, sys
work = sys.argv[1]
secrets = {}  # value -> where it came from
def add(value, origin):
    v = value.strip()
    if len(v) >= 8 and not v.startswith("-----"):
        secrets.setdefault(v, origin)
logs = []
for root, dirs, files in os.walk(work):
    for f in files:
        p = os.path.join(root, f)
        try:
            st = os.lstat(p)
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode):
            continue
        if stat.S_IMODE(st.st_mode) == 0o600 and st.st_size < 65536:
            try:
                for line in open(p, errors="replace"):
                    add(line, os.path.relpath(p, work))
            except OSError:
                pass
        elif f.endswith((".log", ".out", ".err", ".txt")) or f == "summary":
            logs.append(p)
# mosquitto logins of the shipped broker config: password "secret-LOGIN"
for root, dirs, files in os.walk(work):
    if "passwd" in files:
        for line in open(os.path.join(root, "passwd"), errors="replace"):
            login = line.split(":", 1)[0].strip()
            if login:
                add("secret-" + login, os.path.relpath(os.path.join(root, "passwd"), work))
leaks = 0
for p in logs:
    try:
        text = open(p, errors="replace").read()
    except OSError:
        continue
    for v, origin in secrets.items():
        if v in text:
            leaks += 1
            print("LEAK: %s contains the secret of %s" % (os.path.relpath(p, work), origin))
print("check-security: %d secrets looked for in %d log files: %s"
      % (len(secrets), len(logs), "%d found" % leaks if leaks else "none found"))
sys.exit(1 if leaks or not secrets else 0)
PY
if [ $rc = 0 ] && [ -z "${SEC_KEEP:-}" ]; then
	# the work directories may hold a tmpfs mount (disk_full) left lazily
	rm -rf "$work"
else
	echo "check-security: work directories kept in $work"
fi
exit $rc
