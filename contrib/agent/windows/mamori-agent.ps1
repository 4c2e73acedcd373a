<#
  mamori-agent.ps1 - reports Windows Defender status to the mamori help desk.

  Run by a scheduled task every 5 minutes and at logon (install.ps1 sets it
  up).  Reads Get-MpComputerStatus, builds the mamori.defender/1 payload
  (New-MamoriPayload), publishes it with mosquitto_pub over TLS with this
  PC's own credentials and a last will ("offline" on .../status), and when
  Defender is off shows the user a notification with the help desk's name
  and phone number.  Nothing secret is on mosquitto_pub's command line
  (which every user of the PC can see): the payload goes on stdin, the
  login and password in mosquitto_pub's own config file
  (New-MamoriPubConfig).

  Config: C:\ProgramData\mamori\agent.json
    { "broker": "mqtt.example.jp", "port": 8883, "customer": "c0001",
      "host": "PC-001", "ca_file": "C:\\ProgramData\\mamori\\ca.crt",
      "password_file": "C:\\ProgramData\\mamori\\password.txt",
      "helpdesk_name": "...", "helpdesk_phone": "...",
      "mosquitto_pub": "C:\\Program Files\\mosquitto\\mosquitto_pub.exe" }
  The broker login is "<customer>/<host>"; the broker ACL lets it publish
  only under mamori/v1/agents/<customer>/<host>/.  The client id is the
  login too: the broker (contrib/mosquitto) binds client ids to logins, so
  no other PC can take this PC's connection over, and this PC none but its
  own.
#>
param(
	[string]$ConfigPath = "$env:ProgramData\mamori\agent.json",
	[switch]$PrintOnly     # print the payload, publish nothing (tests, support)
)

Set-StrictMode -Version 2
$ErrorActionPreference = 'Stop'
$AgentVersion = '1.0.0'

# Fields of Get-MpComputerStatus sent under their own names (the contract).
$MamoriFields = @(
	'ComputerName', 'AMEngineVersion', 'AMProductVersion', 'AMRunningMode',
	'AMServiceEnabled', 'AMServiceVersion', 'AntispywareEnabled',
	'AntispywareSignatureAge', 'AntispywareSignatureLastUpdated',
	'AntispywareSignatureVersion', 'AntivirusEnabled', 'AntivirusSignatureAge',
	'AntivirusSignatureLastUpdated', 'AntivirusSignatureVersion',
	'BehaviorMonitorEnabled', 'ComputerState', 'DefenderSignaturesOutOfDate',
	'FullScanAge', 'FullScanOverdue', 'FullScanRequired', 'IoavProtectionEnabled',
	'IsTamperProtected', 'IsVirtualMachine', 'NISEnabled', 'NISEngineVersion',
	'NISSignatureAge', 'NISSignatureLastUpdated', 'OnAccessProtectionEnabled',
	'QuickScanAge', 'QuickScanOverdue', 'RealTimeProtectionEnabled',
	'TamperProtectionSource'
)

# Dates as RFC 3339 with offset in both PowerShell 5.1 and 7 (5.1's
# ConvertTo-Json would write "\/Date(ms)\/", which the server accepts too).
function ConvertTo-Rfc3339([object]$v) {
	if ($v -is [datetime]) { return $v.ToString("yyyy-MM-ddTHH:mm:ssK") }
	return $v
}

# The payload of the contract from a Get-MpComputerStatus object (or any
# object with those properties: tests pass a PSCustomObject).
function New-MamoriPayload([object]$Status, [datetime]$Now = (Get-Date)) {
	$p = [ordered]@{
		schema        = 'mamori.defender/1'
		ts            = ConvertTo-Rfc3339 $Now
		agent_version = $AgentVersion
	}
	foreach ($f in $MamoriFields) {
		$prop = $Status.PSObject.Properties[$f]
		if ($null -ne $prop -and $null -ne $prop.Value) {
			$v = $prop.Value
			if ($v -is [datetime]) { $v = ConvertTo-Rfc3339 $v }
			elseif ($v -is [uint32] -or $v -is [int] -or $v -is [long]) { $v = [long]$v }
			$p[$f] = $v
		}
	}
	return ($p | ConvertTo-Json -Compress -Depth 2)
}

function Show-HelpdeskNotice($cfg, [string]$what) {
	$text = "Virus protection is OFF on this PC ($what). " +
	        "Please call $($cfg.helpdesk_name): $($cfg.helpdesk_phone)"
	try {
		# msg.exe reaches the logged-on user even from a task running as SYSTEM
		& "$env:SystemRoot\System32\msg.exe" '*' '/TIME:3600' $text
	} catch {
		Write-Warning "could not show the notice: $_"
	}
}

# mosquitto_pub's own config file with the login and password, so that
# neither is on its command line: any user of the PC can read command lines
# (Task Manager, Get-CimInstance Win32_Process).  mosquitto_pub 2.0 reads
# %USERPROFILE%\mosquitto_pub.conf before its arguments, one "-option value"
# per line, the value being the rest of the line (a password may contain
# spaces), lines of at most 1023 characters.  Tests call this function.
function New-MamoriPubConfig([string]$Login, [string]$Password) {
	if ($Login -match '[\r\n]' -or $Password -match '[\r\n]') { throw 'login and password must be one line each' }
	if ($Login.Length -gt 1000 -or $Password.Length -gt 1000) { throw 'login or password too long for mosquitto_pub' }
	return "-u $Login`n-P $Password`n"
}

function Publish-Mamori($cfg, [string]$topic, [string]$payload, [switch]$Retain) {
	$login = "$($cfg.customer)/$($cfg.host)"
	$pw = (Get-Content -Raw -LiteralPath $cfg.password_file).Trim()
	$status = "mamori/v1/agents/$login/status"
	# The config file goes next to the password file (C:\ProgramData\mamori:
	# SYSTEM and Administrators only, install.ps1) and lives for this call.
	# UTF-8 without a BOM: a BOM would make its first line an unknown option.
	$dir = Split-Path -Parent $cfg.password_file
	$pubConf = Join-Path $dir 'mosquitto_pub.conf'
	[System.IO.File]::WriteAllText($pubConf, (New-MamoriPubConfig $login $pw),
	                               (New-Object System.Text.UTF8Encoding $false))
	$pubArgs = @('-h', $cfg.broker, '-p', [string]$cfg.port, '--cafile', $cfg.ca_file,
	             '-q', '1', '-i', $login,
	             '--will-topic', $status, '--will-payload', 'offline', '--will-qos', '1',
	             '--will-retain', '-t', $topic, '-s')
	if ($Retain) { $pubArgs += '-r' }
	$savedProfile = $env:USERPROFILE
	try {
		$env:USERPROFILE = $dir # mosquitto_pub finds its config file there
		# payload on stdin (-s), credentials in the config file: nothing
		# secret on the command line where other users see it
		$payload | & $cfg.mosquitto_pub @pubArgs
		$rc = $LASTEXITCODE
	} finally {
		$env:USERPROFILE = $savedProfile
		Remove-Item -Force -ErrorAction SilentlyContinue -LiteralPath $pubConf
	}
	if ($rc -ne 0) { throw "mosquitto_pub failed ($rc)" }
}

function Invoke-MamoriAgent {
	$cfg = Get-Content -Raw -LiteralPath $ConfigPath | ConvertFrom-Json
	$st = Get-MpComputerStatus
	$payload = New-MamoriPayload $st
	if ($PrintOnly) { $payload; return }
	$base = "mamori/v1/agents/$($cfg.customer)/$($cfg.host)"
	Publish-Mamori $cfg "$base/status" 'online' -Retain
	Publish-Mamori $cfg "$base/defender" $payload
	if (-not $st.AMServiceEnabled) { Show-HelpdeskNotice $cfg 'Defender service stopped' }
	elseif (-not $st.RealTimeProtectionEnabled -and $st.AMRunningMode -notmatch 'Passive') {
		Show-HelpdeskNotice $cfg 'real-time protection off'
	}
}

# Dot-sourcing (". .\mamori-agent.ps1") only defines the functions (tests).
if ($MyInvocation.InvocationName -ne '.') { Invoke-MamoriAgent }
