<#
  install.ps1 - installs the mamori agent on one PC (run as Administrator).

    .\install.ps1 -Customer c0001 -HostName PC-001 -Broker mqtt.example.jp `
                  -PasswordFile .\PC-001.password -CaFile .\ca.crt `
                  -HelpdeskName "Security help desk" -HelpdeskPhone "0120-000-000"

  Copies the agent and its config to C:\ProgramData\mamori (readable by
  SYSTEM and Administrators only: it holds the PC's broker password) and
  registers a scheduled task running as SYSTEM every 5 minutes and at logon.
  Needs mosquitto_pub (install Mosquitto for Windows; only the client tools
  are used).
#>
param(
	[Parameter(Mandatory)][string]$Customer,
	[Parameter(Mandatory)][string]$HostName,
	[Parameter(Mandatory)][string]$Broker,
	[int]$Port = 8883,
	[Parameter(Mandatory)][string]$PasswordFile,
	[Parameter(Mandatory)][string]$CaFile,
	[Parameter(Mandatory)][string]$HelpdeskName,
	[Parameter(Mandatory)][string]$HelpdeskPhone,
	[string]$MosquittoPub = "$env:ProgramFiles\mosquitto\mosquitto_pub.exe"
)
$ErrorActionPreference = 'Stop'
$dir = "$env:ProgramData\mamori"
if (-not (Test-Path $MosquittoPub)) { throw "mosquitto_pub not found at $MosquittoPub" }
New-Item -ItemType Directory -Force -Path $dir | Out-Null
Copy-Item -Force "$PSScriptRoot\mamori-agent.ps1" "$dir\mamori-agent.ps1"
Copy-Item -Force $PasswordFile "$dir\password.txt"
Copy-Item -Force $CaFile "$dir\ca.crt"
[ordered]@{
	broker = $Broker; port = $Port; customer = $Customer; host = $HostName
	ca_file = "$dir\ca.crt"; password_file = "$dir\password.txt"
	helpdesk_name = $HelpdeskName; helpdesk_phone = $HelpdeskPhone
	mosquitto_pub = $MosquittoPub
} | ConvertTo-Json | Set-Content -Encoding UTF8 "$dir\agent.json"
# SYSTEM and Administrators only
icacls $dir /inheritance:r /grant:r 'SYSTEM:(OI)(CI)F' 'Administrators:(OI)(CI)F' | Out-Null

$action = New-ScheduledTaskAction -Execute 'powershell.exe' `
	-Argument "-NoProfile -NonInteractive -ExecutionPolicy Bypass -File `"$dir\mamori-agent.ps1`""
$every5 = New-ScheduledTaskTrigger -Once -At (Get-Date) -RepetitionInterval (New-TimeSpan -Minutes 5)
$logon = New-ScheduledTaskTrigger -AtLogOn
$settings = New-ScheduledTaskSettingsSet -StartWhenAvailable -ExecutionTimeLimit (New-TimeSpan -Minutes 2) `
	-MultipleInstances IgnoreNew
Register-ScheduledTask -Force -TaskName 'mamori agent' -Action $action -Trigger $every5, $logon `
	-Settings $settings -User 'SYSTEM' -RunLevel Highest | Out-Null
Start-ScheduledTask -TaskName 'mamori agent'
Write-Host "mamori agent installed for $Customer/$HostName; first report sent."
