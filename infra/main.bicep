// IoT Hub import/export job monitor: a Linux Python 3.11 Function App (get_job + poll_job_timer) with
// Application Insights, its own storage account reached by managed identity, least-privilege role assignments
// and the operators' alerts.
//
// Deploy: az deployment group create -g <rg> -f infra/main.bicep -p infra/main.parameters.json (docs/deploy.md).
// This file holds the parameters and wires the modules (infra/modules/): identities (the host's and the jobs
// identity, the custom jobs reader role), storage (the app's own account and containers), app-settings (the
// app's settings), site (plan and function app), monitoring (workspace, Application Insights), alerts (the
// operators' alert rules), sign-in (authsettingsV2), app-roles (the host's roles on its own account),
// iothub-reader (the hubs' reader role), blob-writer (the jobs identity's role on output storage). Every role
// assignment is a module's, named guid(scope, principal, role).
// Validate here: bash infra/check.sh (checkov) and tests/infra/ (the Bicep compiler is not available on the
// build machines; the tests parse this file and its modules with pycep, checkov's own Bicep parser).
//
// Keys: none on the default plan (Flex Consumption). The app's storage account allows Shared Key only on
// Premium (EP1), whose content share on Azure Files takes nothing but a key connection string, read in
// modules/site.bicep (no module outputs a key). Consumption (Y1) runs from a package URL fetched with the
// app's identity (WEBSITE_RUN_FROM_PACKAGE + WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID), so it stays keyless.

targetScope = 'resourceGroup'

// ---------------------------------------------------------------------------------------------------------------
// Parameters
// ---------------------------------------------------------------------------------------------------------------

@description('Azure region of every resource this template creates (monitored hubs and storage may be elsewhere).')
param location string = resourceGroup().location

@description('Function app name (globally unique: it becomes <name>.azurewebsites.net).')
@minLength(2)
@maxLength(60)
param appName string = 'iothub-jobmon-${uniqueString(resourceGroup().id)}'

@description('Hosting plan: FlexConsumption (FC1, default), Consumption (Y1, Linux) or Premium (EP1, Linux).')
@allowed([
  'FlexConsumption'
  'Consumption'
  'Premium'
])
param hostingPlan string = 'FlexConsumption'

@description('Flex Consumption only: most instances the app may scale out to. The shared cache and call budget keep hub calls flat as instances grow. Flex accepts values down to 1 (40 was the preview\'s floor).')
@minValue(1)
@maxValue(1000)
param flexMaximumInstanceCount int = 40

@description('Flex Consumption only: memory per instance in MB.')
@allowed([
  512
  2048
  4096
])
param flexInstanceMemoryMB int = 2048

@description('Flex Consumption only: concurrent HTTP requests per instance (Python defaults to 1). get_job waits on the hub, so one instance serves many callers and shares one cache and single flight between them. At most 64: the hub client pools 64 connections per hub (shared/hub_client.py POOL_SIZE).')
@minValue(1)
@maxValue(64)
param flexHttpPerInstanceConcurrency int = 16

@description('Consumption (Y1) and Premium (EP1): most instances the app may scale out to (siteConfig.functionAppScaleLimit). Limits hub calls the same way flexMaximumInstanceCount does.')
@minValue(1)
@maxValue(200)
param scaleLimit int = 10

@description('Premium (EP1) only: most instances of the plan (maximumElasticWorkerCount). Every EP1 instance is billed while it runs.')
@minValue(1)
@maxValue(100)
param premiumMaximumElasticWorkerCount int = 5

@description('Consumption (Y1) only: URL of the app package blob (https://<account>.blob.core.windows.net/app-package/<file>.zip) in this app\'s storage account; the app fetches it with its managed identity. Empty until the first publish (docs/deploy.md).')
param consumptionPackageUrl string = ''

@description('Create a user-assigned managed identity and use it for everything (hubs, storage, telemetry) instead of the system-assigned one.')
param useUserAssignedIdentity bool = false

@description('Flex Consumption and Premium only: resource id of an existing subnet for VNet integration (empty: none). Flex needs the subnet delegated to Microsoft.App/environments, Premium to Microsoft.Web/serverFarms. With it the app reaches firewalled output storage through a private endpoint or a subnet rule on that account (docs/deploy.md, "Firewalled output storage").')
param vnetSubnetId string = ''

@description('Names of the existing IoT Hubs to monitor (IOTHUB_HUBS). The first is the default hub of GET /api/jobs/{jobId}.')
@minLength(1)
param iotHubNames array

@description('Resource group holding those hubs (default: this one).')
param iotHubResourceGroup string = resourceGroup().name

@description('Hubs that are in another resource group than iotHubResourceGroup: { "<hub name>": "<resource group>" }.')
param iotHubResourceGroups object = {}

@description('Role the app\'s identity gets on each hub: jobsReader (default) is a custom role created here with the one data action Microsoft.Devices/IotHubs/jobs/read (creating it needs Microsoft.Authorization/roleDefinitions/write, e.g. Owner); iotHubDataReader is the built-in IoT Hub Data Reader (all of IotHubs/*/read: registry, twins, configurations).')
@allowed([
  'jobsReader'
  'iotHubDataReader'
])
param hubReaderRole string = 'jobsReader'

@description('IOTHUB_AUDIENCE: the token audience for the hubs when it must differ from the one AZURE_CLOUD gives (https://iothubs.azure.net, or https://iothubs.azure.us in US Government). Empty: the cloud\'s.')
param iotHubAudience string = ''

@description('How the app authenticates to the hubs (IOTHUB_AUTH). managedIdentity needs no secret; sharedAccessPolicy needs iotHubConnectionStringsSecretUri.')
@allowed([
  'managedIdentity'
  'sharedAccessPolicy'
])
param iotHubAuth string = 'managedIdentity'

@description('sharedAccessPolicy only: Key Vault secret URI whose value is the hubs\' connection strings separated by "|" (IOTHUB_CONNECTION_STRINGS, as a Key Vault reference). The identity needs "Key Vault Secrets User" on that vault (not granted here).')
param iotHubConnectionStringsSecretUri string = ''

@description('Existing storage accounts holding the jobs\' output containers, where the poller may write with the jobs identity: [{ "name": "acct", "resourceGroup": "rg" (default this one), "containers": ["c1"], "wholeAccount": false }]. The role is granted on the listed containers only; on the whole account only with "wholeAccount": true (an entry with neither gets no role). Empty: the poller writes nothing with an identity (MONITOR_STORAGE_HOST_ALLOWLIST and MONITOR_IDENTITY_CONTAINERS stay empty).')
param outputStorageAccounts array = []

@description('MONITOR_STORAGE_HOST_ALLOWLIST override: comma-separated blob host patterns the poller may contact with a job\'s own SAS. Empty = exactly the blob hosts of outputStorageAccounts (and nothing when that list is empty).')
param monitorStorageHostAllowlist string = ''

@description('Minutes that size the "no tick" and "hub failing" alerts (a period of the poller; the timer itself runs every 30 s by default, pollSchedule, and lists each idle hub every monitorIdleListSeconds).')
@minValue(1)
@maxValue(60)
param pollIntervalMinutes int = 5

@description('POLL_SCHEDULE: 6-field NCRONTAB schedule of poll_job_timer.')
param pollSchedule string = '*/30 * * * * *'

@description('MONITOR_PREFIX: blob path prefix of snapshots and reports inside the output container.')
param monitorPrefix string = 'jobmonitor'

@description('MONITOR_CONTAINER: if set, write into this sibling container of each job\'s storage account instead of beside the job\'s output. The template creates it in every outputStorageAccounts entry and grants the identity on it.')
param monitorContainer string = ''

@description('MONITOR_STATE_CONTAINER: container of the poller\'s state in the app\'s own storage account (created here).')
param monitorStateContainer string = 'jobmonitor-state'

@description('MONITOR_REPORTS_CONTAINER: container of the app\'s own copy of every report, in its own storage account (created here).')
param monitorReportsContainer string = 'jobmonitor-reports'

@description('MONITOR_STALL_AFTER_MINUTES: an active job unchanged this long is marked stalled.')
param monitorStallAfterMinutes int = 120

@description('MONITOR_BACKFILL_HOURS: on the first run against a hub, jobs that ended longer ago are recorded as seen, not reported.')
param monitorBackfillHours int = 24

@description('MONITOR_TICK_BUDGET_SECONDS: time budget of one tick; keep it under functionTimeout in host.json (5 min).')
param monitorTickBudgetSeconds int = 240

@description('MONITOR_IDLE_LIST_SECONDS: a hub with no active job is listed at most once this often (0-3600; 0: every run). docs/poller.md, "The cadence".')
param monitorIdleListSeconds int = 300

@description('MONITOR_RECENT_END_MINUTES: a hub is listed on every run for this long after it last showed an active job (0-1440).')
param monitorRecentEndMinutes string = '5'

@description('STATUS_PAGE_DAYS: the status page shows each hub\'s jobs of the last this many days (0.01-30).')
param statusPageDays string = '7'

@description('Entra ID sign-in (App Service Authentication, "Easy Auth") in front of the app: people on /api/status and report pages are sent to sign in; scripts on /api/jobs get 401 (signInScriptPaths). Function keys are still checked by the Functions host (docs/jobs-api.md, "Signing in instead of a key").')
param signInEnabled bool = false

@description('The client id of the Entra app registration that sign-in uses (required when signInEnabled).')
param signInClientId string = ''

@description('The Entra tenant users sign in to (default: this subscription\'s).')
param signInTenantId string = subscription().tenantId

@description('Sign-in only: how scripts on /api/jobs and /api/jobs/{id} are answered without sign-in. functionKey (default): those paths are left out of sign-in (excludedPaths), the Functions host answers 401 without a valid key; return401: every path answers 401 without a token, and nobody is redirected (a setup with no people on the pages). Easy Auth documents only trailing wildcards, so /api/jobs/* also leaves out /api/jobs/{id}/report, which keeps its function key.')
@allowed([
  'functionKey'
  'return401'
])
param signInScriptPaths string = 'functionKey'

@description('Sign-in only: object ids of the users and service principals allowed past sign-in (defaultAuthorizationPolicy.allowedPrincipals). Empty: anyone of the tenant with a token for signInClientId passes unless "Assignment required" is set on the enterprise application (docs/deploy.md).')
param signInAllowedPrincipals array = []

@description('Sign-in only: client ids of other applications whose tokens are accepted (defaultAuthorizationPolicy.allowedApplications); signInClientId itself, the browser sign-in, is always allowed.')
param signInAllowedApplications array = []

@description('GET_JOB_CACHE_TTL_SECONDS: how long get_job reuses the answer for an active job (0-60 s).')
param getJobCacheTtlSeconds string = '2'

@description('GET_JOB_TERMINAL_CACHE_SIZE: how many finished jobs get_job keeps in memory per instance.')
param getJobTerminalCacheSize int = 1024

@description('GET_JOB_REDACT_SAS: redact the SAS signature in container URIs returned by get_job.')
param getJobRedactSas bool = true

@description('IOTHUB_API_VERSION: api-version sent to the hubs when the caller names none.')
param iotHubApiVersion string = '2021-04-12'

@description('IOTHUB_SAS_TTL_SECONDS: lifetime of SAS tokens minted in sharedAccessPolicy mode.')
param iotHubSasTtlSeconds int = 3600

@description('IOTHUB_CONNECT_TIMEOUT_SECONDS (decimal string).')
param iotHubConnectTimeoutSeconds string = '3.05'

@description('IOTHUB_READ_TIMEOUT_SECONDS (decimal string).')
param iotHubReadTimeoutSeconds string = '10'

@description('IOTHUB_RETRY_BUDGET_SECONDS: total time one call may spend retrying (decimal string).')
param iotHubRetryBudgetSeconds string = '20'

@description('IOTHUB_MAX_ATTEMPTS: upstream attempts per call.')
param iotHubMaxAttempts int = 4

@description('IOTHUB_CALLS_PER_MINUTE: the call budget the whole app keeps per hub (get_job and the poller, every instance): N for every hub, or hub=N pairs. Default: half of one S1 unit\'s 100 jobs operations a minute.')
param iotHubCallsPerMinute string = '50'

@description('SHARED_CACHE_ENABLED: share get_job\'s cache, its single flight and the call budget between instances through the app\'s storage account (false: each instance on its own).')
param sharedCacheEnabled bool = true

@description('SHARED_CACHE_CONTAINER: container of the shared cache and the call budgets in the app\'s own storage account (created here).')
param sharedCacheContainer string = 'jobmonitor-cache'

@description('SHARED_CACHE_MAX_ENTRIES: entries the shared cache keeps at most (the oldest are swept first).')
param sharedCacheMaxEntries int = 10000

@description('Grant "Storage Table Data Contributor" on the app\'s own storage account: the host persists its diagnostic events in tables (Microsoft lists it beside Blob Data Owner for host storage with diagnostic events).')
param grantHostTableAccess bool = true

@description('Grant "Storage Queue Data Contributor" on the app\'s own storage account. Not needed by HTTP and timer triggers; Microsoft lists it for blob triggers and Durable Functions.')
param grantHostQueueAccess bool = false

@description('Days of retention in the Log Analytics workspace behind Application Insights.')
@minValue(30)
@maxValue(730)
param logRetentionDays int = 30

@description('Create the operators\' alert rules (Azure Monitor scheduled query rules on the app\'s log lines).')
param deployAlerts bool = true

@description('E-mail address (a person or a distribution list) the alerts notify through one action group. Empty: the rules are created without an action group (they still show in the portal\'s Alerts).')
param alertEmail string = ''

@description('Alert when the poller writes a failure report (a job failed or was cancelled).')
param alertOnReportWritten bool = true

@description('Alert when the poller marks a job stalled (MONITOR_STALL_AFTER_MINUTES).')
param alertOnJobStalled bool = true

@description('Alert when a hub failed in this many ticks in a row.')
param alertOnHubFailing bool = true

@description('How many ticks in a row a hub must fail before the hub-failing alert fires.')
@minValue(1)
@maxValue(12)
param alertHubFailingTicks int = 3

@description('Alert when no tick was logged for two poll periods (plus alertIngestionMarginMinutes): the timer stopped or the app cannot start.')
param alertOnMissingTick bool = true

@description('Minutes added to alert look-backs for Application Insights ingestion delay (typically 1-3 minutes).')
@minValue(0)
@maxValue(30)
param alertIngestionMarginMinutes int = 5

@description('Alert when get_job answered 5xx or 429 (or was misconfigured) at least alertGetJobErrorThreshold times in alertGetJobErrorWindowMinutes.')
param alertOnGetJobErrors bool = true

@description('get_job 5xx/429 answers in the window that fire the alert.')
@minValue(1)
param alertGetJobErrorThreshold int = 10

@description('Window of the get_job error alert, in minutes (evaluated every 5 minutes).')
@allowed([
  5
  10
  15
  30
  45
])
param alertGetJobErrorWindowMinutes int = 15

@description('Tags applied to every resource this template creates.')
param tags object = {}

// ---------------------------------------------------------------------------------------------------------------
// Variables
// ---------------------------------------------------------------------------------------------------------------

var isPremium = hostingPlan == 'Premium'
var storageAccountName = 'st${uniqueString(resourceGroup().id, appName)}'
var deploymentContainerName = 'app-package'
var blobEndpointSuffix = 'blob.${environment().suffixes.storage}'
// Deployment names are per resource group: the app's name in them keeps two apps' deployments apart.
var deploymentSuffix = uniqueString(resourceGroup().id, appName)

// Where the poller may go (issue 9): nothing unless output accounts are listed. union() supplies the optional
// fields, so no expression reads a property an entry lacks.
var outputAccounts = [for a in outputStorageAccounts: union({
  resourceGroup: resourceGroup().name
  containers: []
  wholeAccount: false
}, a)]
var outputBlobHosts = [for a in outputAccounts: '${a.name}.${blobEndpointSuffix}']
var effectiveAllowlist = (!empty(monitorStorageHostAllowlist)) ? monitorStorageHostAllowlist : join(outputBlobHosts, ',')
// Per account: the whole account (/*) only when the operator asks (wholeAccount), else its listed containers
// (none: nothing), plus the MONITOR_CONTAINER sibling. Lists per account, flattened: no empty entries.
// (Single-line expressions: nothing here needs a Bicep newer than its for-expressions.)
var containerUrlsPerAccount = [for a in outputAccounts: (a.wholeAccount) ? [
  concat('https://', a.name, '.', blobEndpointSuffix, '/*')
] : (empty(a.containers) ? [] : split(concat('https://', a.name, '.', blobEndpointSuffix, '/', join(a.containers, concat(',https://', a.name, '.', blobEndpointSuffix, '/'))), ','))]
var monitorUrlPerAccount = [for a in outputAccounts: (empty(monitorContainer)) ? [] : [
  concat('https://', a.name, '.', blobEndpointSuffix, '/', monitorContainer)
]]
var identityContainersPerAccount = [for (a, i) in outputAccounts: concat(containerUrlsPerAccount[i], monitorUrlPerAccount[i])]
var monitorIdentityContainers = join(flatten(identityContainersPerAccount), ',')

// The host's identity: the host's storage, telemetry, the hubs. It never writes where a job points.
var principalId = useUserAssignedIdentity ? identities.outputs.userPrincipalId : site.outputs.systemPrincipalId
var clientId = identities.outputs.userClientId
// The jobs identity: the jobs' containers only, no role on the app's own account (modules/identities.bicep).
var jobsPrincipalId = identities.outputs.jobsPrincipalId
var jobsClientId = identities.outputs.jobsClientId
// IoT Hub Data Reader (built-in), or the custom role holding only Microsoft.Devices/IotHubs/jobs/read.
var iotHubDataReaderRoleId = 'b447c946-2db7-41ec-983d-d8bf3b1c77e3'
var hubReaderRoleDefinitionId = (hubReaderRole == 'jobsReader') ? identities.outputs.jobsReaderRoleId : subscriptionResourceId('Microsoft.Authorization/roleDefinitions', iotHubDataReaderRoleId)
// The custom role may be assigned in every resource group holding a monitored hub.
var hubResourceGroups = [for hubName in iotHubNames: contains(iotHubResourceGroups, hubName) ? iotHubResourceGroups[hubName] : iotHubResourceGroup]
var hubResourceGroupIds = [for rg in hubResourceGroups: '${subscription().id}/resourceGroups/${rg}']

// ---------------------------------------------------------------------------------------------------------------
// Monitoring
// ---------------------------------------------------------------------------------------------------------------

// Log Analytics and Application Insights (modules/monitoring.bicep).
module monitoring 'modules/monitoring.bicep' = {
  name: take('monitoring-${deploymentSuffix}', 64)
  params: {
    location: location
    appName: appName
    logRetentionDays: logRetentionDays
    tags: tags
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Identities, the app's own storage account, plan and app
// ---------------------------------------------------------------------------------------------------------------

// The host's user-assigned identity (optional), the jobs identity and the custom jobs reader role.
module identities 'modules/identities.bicep' = {
  name: take('identities-${deploymentSuffix}', 64)
  params: {
    location: location
    appName: appName
    useUserAssignedIdentity: useUserAssignedIdentity
    createJobsReaderRole: (hubReaderRole == 'jobsReader')
    hubResourceGroupIds: hubResourceGroupIds
    tags: tags
  }
}

// Host coordination, function keys, timer locks, poller state, shared cache, report copies, Flex package.
module storage 'modules/storage.bicep' = {
  name: take('storage-${deploymentSuffix}', 64)
  params: {
    location: location
    storageAccountName: storageAccountName
    allowSharedKeyAccess: isPremium
    deploymentContainerName: deploymentContainerName
    stateContainerName: monitorStateContainer
    sharedCacheContainerName: sharedCacheContainer
    reportsContainerName: monitorReportsContainer
    tags: tags
  }
}

// The app's settings (modules/app-settings.bicep, between its app-settings markers): what the app reads, host
// storage by identity, telemetry, the worker's threads. Its output is the site's appSettings.
module settings 'modules/app-settings.bicep' = {
  name: take('app-settings-${deploymentSuffix}', 64)
  params: {
    iotHubNames: iotHubNames
    iotHubAuth: iotHubAuth
    iotHubConnectionStringsSecretUri: iotHubConnectionStringsSecretUri
    iotHubAudience: iotHubAudience
    iotHubApiVersion: iotHubApiVersion
    iotHubSasTtlSeconds: iotHubSasTtlSeconds
    iotHubConnectTimeoutSeconds: iotHubConnectTimeoutSeconds
    iotHubReadTimeoutSeconds: iotHubReadTimeoutSeconds
    iotHubRetryBudgetSeconds: iotHubRetryBudgetSeconds
    iotHubMaxAttempts: iotHubMaxAttempts
    iotHubCallsPerMinute: iotHubCallsPerMinute
    getJobCacheTtlSeconds: getJobCacheTtlSeconds
    getJobTerminalCacheSize: getJobTerminalCacheSize
    getJobRedactSas: getJobRedactSas
    sharedCacheEnabled: sharedCacheEnabled
    sharedCacheContainer: sharedCacheContainer
    sharedCacheMaxEntries: sharedCacheMaxEntries
    pollSchedule: pollSchedule
    monitorPrefix: monitorPrefix
    monitorContainer: monitorContainer
    monitorStateContainer: monitorStateContainer
    monitorReportsContainer: monitorReportsContainer
    monitorStallAfterMinutes: monitorStallAfterMinutes
    monitorBackfillHours: monitorBackfillHours
    monitorTickBudgetSeconds: monitorTickBudgetSeconds
    monitorIdleListSeconds: monitorIdleListSeconds
    monitorRecentEndMinutes: monitorRecentEndMinutes
    statusPageDays: statusPageDays
    effectiveAllowlist: effectiveAllowlist
    monitorIdentityContainers: monitorIdentityContainers
    useUserAssignedIdentity: useUserAssignedIdentity
    clientId: clientId
    jobsClientId: jobsClientId
    blobServiceUri: storage.outputs.blobServiceUri
    queueServiceUri: storage.outputs.queueServiceUri
    tableServiceUri: storage.outputs.tableServiceUri
    appInsightsConnectionString: monitoring.outputs.connectionString
    flexHttpPerInstanceConcurrency: flexHttpPerInstanceConcurrency
  }
}

// The plan and the function app. Its parameters come from the storage module's outputs, so ARM deploys the
// storage module (the Flex deployment container included) first.
module site 'modules/site.bicep' = {
  name: take('site-${deploymentSuffix}', 64)
  params: {
    location: location
    appName: appName
    hostingPlan: hostingPlan
    flexMaximumInstanceCount: flexMaximumInstanceCount
    flexInstanceMemoryMB: flexInstanceMemoryMB
    flexHttpPerInstanceConcurrency: flexHttpPerInstanceConcurrency
    scaleLimit: scaleLimit
    premiumMaximumElasticWorkerCount: premiumMaximumElasticWorkerCount
    consumptionPackageUrl: consumptionPackageUrl
    vnetSubnetId: vnetSubnetId
    useUserAssignedIdentity: useUserAssignedIdentity
    userIdentityId: identities.outputs.userIdentityId
    jobsIdentityId: identities.outputs.jobsIdentityId
    storageAccountName: storage.outputs.accountName
    deploymentContainerUrl: storage.outputs.deploymentContainerUrl
    appSettings: settings.outputs.settings
    tags: tags
  }
}

// Entra ID sign-in in front of the app (modules/sign-in.bicep): people redirected, scripts on /api/jobs 401.
module signIn 'modules/sign-in.bicep' = if (signInEnabled) {
  name: take('sign-in-${deploymentSuffix}', 64)
  params: {
    appName: site.outputs.name
    signInClientId: signInClientId
    signInTenantId: signInTenantId
    signInScriptPaths: signInScriptPaths
    signInAllowedPrincipals: signInAllowedPrincipals
    signInAllowedApplications: signInAllowedApplications
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Role assignments. Each lives in a module so that its name can include the principal id (a module parameter is
// known when the module starts; a resource name in this file cannot use the app's runtime principal id): a
// recreated app gets a new principal and so new assignment names, instead of RoleAssignmentUpdateNotPermitted.
// ---------------------------------------------------------------------------------------------------------------

module appRoles 'modules/app-roles.bicep' = {
  name: take('app-roles-${deploymentSuffix}', 64)
  params: {
    storageAccountName: storage.outputs.accountName
    stateContainerName: storage.outputs.stateContainerName
    sharedCacheContainerName: storage.outputs.sharedCacheContainerName
    reportsContainerName: storage.outputs.reportsContainerName
    appInsightsName: monitoring.outputs.appInsightsName
    principalId: principalId
    grantTableAccess: grantHostTableAccess
    grantQueueAccess: grantHostQueueAccess
  }
}

// The jobs reader role (hubReaderRole) on each monitored hub, for the host's identity.
module hubReaders 'modules/iothub-reader.bicep' = [for (hubName, i) in iotHubNames: {
  name: take('hub-reader-${hubName}-${deploymentSuffix}', 64)
  scope: resourceGroup(hubResourceGroups[i])
  params: {
    hubName: hubName
    principalId: principalId
    roleDefinitionId: hubReaderRoleDefinitionId
  }
}]

// Storage Blob Data Contributor for the jobs identity where snapshots and reports are written (the listed
// containers, or the account when the entry asks); MONITOR_CONTAINER created there.
module blobWriters 'modules/blob-writer.bicep' = [for account in outputAccounts: {
  name: take('blob-writer-${account.name}-${deploymentSuffix}', 64)
  scope: resourceGroup(account.resourceGroup)
  params: {
    accountName: account.name
    containers: account.containers
    wholeAccount: account.wholeAccount
    monitorContainer: monitorContainer
    principalId: jobsPrincipalId
  }
}]

// ---------------------------------------------------------------------------------------------------------------
// Operators' alerts: scheduled query rules on the app's log lines and their action group (modules/alerts.bicep,
// beside the queries it loads from infra/alerts/). Runbook: docs/operations.md.
// ---------------------------------------------------------------------------------------------------------------

module alerting 'modules/alerts.bicep' = {
  name: take('alerts-${deploymentSuffix}', 64)
  params: {
    location: location
    appName: appName
    appInsightsId: monitoring.outputs.appInsightsId
    pollIntervalMinutes: pollIntervalMinutes
    deployAlerts: deployAlerts
    alertEmail: alertEmail
    alertOnReportWritten: alertOnReportWritten
    alertOnJobStalled: alertOnJobStalled
    alertOnHubFailing: alertOnHubFailing
    alertHubFailingTicks: alertHubFailingTicks
    alertOnMissingTick: alertOnMissingTick
    alertIngestionMarginMinutes: alertIngestionMarginMinutes
    alertOnGetJobErrors: alertOnGetJobErrors
    alertGetJobErrorThreshold: alertGetJobErrorThreshold
    alertGetJobErrorWindowMinutes: alertGetJobErrorWindowMinutes
    tags: tags
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Outputs
// ---------------------------------------------------------------------------------------------------------------

output functionAppName string = site.outputs.name
output functionAppHostName string = site.outputs.defaultHostName
output principalId string = principalId
output identityClientId string = clientId
output jobsIdentityPrincipalId string = jobsPrincipalId
output jobsIdentityClientId string = jobsClientId
output storageAccountName string = storage.outputs.accountName
output deploymentContainerUrl string = storage.outputs.deploymentContainerUrl
output stateContainerName string = storage.outputs.stateContainerName
output applicationInsightsName string = monitoring.outputs.appInsightsName
output monitorStorageHostAllowlist string = effectiveAllowlist
output monitorIdentityContainers string = monitorIdentityContainers
