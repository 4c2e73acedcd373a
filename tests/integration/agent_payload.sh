#!/bin/sh
# agent_payload: the Windows agent's payload matches the contract.
# With pwsh: dot-source mamori-agent.ps1, run New-MamoriPayload on a fake
# Get-MpComputerStatus object, check the JSON (schema, keys, RFC 3339 ts).
# Without pwsh (Debian): the committed sample must have exactly the keys of
# $MamoriFields plus schema/ts/agent_version, in that order; the server-side
# judgement of the sample is in tests/unit/test_defender.c.
. tests/integration/lib.sh
it_init
A=contrib/agent/windows
command -v python3 >/dev/null 2>&1 || it_skip "python3 needed to read JSON"

# the field list as written in the script
sed -n '/^\$MamoriFields = @(/,/^)/p' "$A/mamori-agent.ps1" | grep -o "'[A-Za-z]*'" | tr -d "'" >"$IT_TMP/fields"
[ "$(wc -l <"$IT_TMP/fields")" -ge 30 ] || it_fail "cannot read \$MamoriFields"

check_json() { # file
	python3 - "$1" "$IT_TMP/fields" <<'PY' || it_fail "payload $1 does not match the contract"
import json, re, sys
def nodup(kv):
    if len(set(k for k, _ in kv)) != len(kv):
        sys.exit("duplicate key")
    return dict(kv)
p = json.loads(open(sys.argv[1], encoding="utf-8").read(), object_pairs_hook=nodup)
fields = open(sys.argv[2]).read().split()
keys = list(p)
assert keys[:3] == ["schema", "ts", "agent_version"], keys[:3]
assert p["schema"] == "mamori.defender/1"
assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d([+-]\d\d:\d\d|Z)", p["ts"]), p["ts"]
extra = [k for k in keys[3:] if k not in fields]
assert not extra, extra
for k in ("AMServiceEnabled", "AntivirusEnabled", "RealTimeProtectionEnabled", "AntivirusSignatureAge"):
    assert k in p, k
for k in keys:
    if k.endswith("Age"):
        assert isinstance(p[k], int) and 0 <= p[k] <= 4294967295, k
    if k.endswith("Enabled"):
        assert isinstance(p[k], bool), k
print("ok", len(keys), "keys")
PY
}

if command -v pwsh >/dev/null 2>&1; then
	cat >"$IT_TMP/run.ps1" <<PS1
. ./$A/mamori-agent.ps1
\$s = [pscustomobject]@{ ComputerName='PC-T'; AMRunningMode='Normal'; AMServiceEnabled=\$true;
  AntivirusEnabled=\$true; RealTimeProtectionEnabled=\$true; AntivirusSignatureAge=[uint32]2;
  QuickScanAge=[uint32]4294967295; AntivirusSignatureLastUpdated=(Get-Date '2026-11-26T03:41:10');
  IsTamperProtected=\$true; ComputerState=[uint32]0; NotInContract='x' }
New-MamoriPayload \$s
PS1
	pwsh -NoProfile -File "$IT_TMP/run.ps1" >"$IT_TMP/out.json" || it_fail "pwsh failed"
	check_json "$IT_TMP/out.json"
	if grep -q NotInContract "$IT_TMP/out.json"; then it_fail "payload leaks fields outside the contract"; fi
else
	echo "pwsh not installed: checking the committed sample" >&2
fi
check_json "$A/sample-payload.json"
python3 - "$A/sample-payload.json" "$IT_TMP/fields" <<'PY' || it_fail "sample lacks fields of \$MamoriFields"
import json, sys
p = json.load(open(sys.argv[1])); f = open(sys.argv[2]).read().split()
missing = [k for k in f if k not in p]
assert not missing, missing
PY
echo "PASS agent_payload"
