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
raw = open(sys.argv[1], encoding="utf-8").read()
p = json.loads(raw, object_pairs_hook=lambda kv: (len(set(k for k, _ in kv)) == len(kv) or sys.exit("dup key")) and dict(kv))
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
	cat >"$IT_TMP/run.ps1" <<EOF
. ./$A/mamori-agent.ps1
\$s = [pscustomobject]@{ ComputerName='PC-T'; AMRunningMode='Normal'; AMServiceEnabled=\$true;
  AntivirusEnabled=\$true; RealTimeProtectionEnabled=\$true; AntivirusSignatureAge=[uint32]2;
  QuickScanAge=[uint32]4294967295; AntivirusSignatureLastUpdated=(Get-Date '2026-11-26T03:41:10');
  IsTamperProtected=\$true; ComputerState=[uint32]0; NotInContract='x' }
New-MamoriPayload \$s
