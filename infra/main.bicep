// IoT Hub import/export job monitor: a Linux Python 3.11 Function App (get_job + poll_job_timer) with
// Application Insights, its own storage account reached by managed identity, least-privilege role assignments
// and the operators' alerts.
//
// Deploy: az deployment group create -g <rg> -f infra/main.bicep -p infra/main.parameters.json (docs/deploy.md).
// Validate here: bash infra/check.sh (checkov) and tests/infra/ (the Bicep compiler is not available on the
// build machines; the tests parse this file with pycep, checkov's own Bicep parser).
//
// Keys: none on the default plan (Flex Consumption). The app's storage account allows Shared Key only on
// Premium (EP1), whose content share on Azure Files takes nothing but a key connection string
// (WEBSITE_CONTENTAZUREFILECONNECTIONSTRING). Consumption (Y1) runs from a package URL fetched with the
// app's identity (WEBSITE_RUN_FROM_PACKAGE + WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID), so it stays keyless.
//
// Flex Consumption rejects several site properties (ARM error 51021, even with null values): ftpsState,
// linuxFxVersion, use32BitWorkerProcess, javaVersion, netFrameworkVersion, ... So a Flex site gets `flexSiteConfig`
// only (app settings and the TLS minimum) and its runtime from functionAppConfig.runtime; the other properties
// exist only in `classicSiteConfig` (Y1, EP1). tests/infra/test_flex_rules.py keeps it so.

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

@description('Flex Consumption only: most instances the app may scale out to. Each instance keeps its own get_job cache and single flight, so hub calls grow with instances; 40 is the lowest value Microsoft documents.')
@minValue(40)
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

@description('Names of the existing IoT Hubs to monitor (IOTHUB_HUBS). The first is the default hub of GET /api/jobs/{jobId}.')
@minLength(1)
param iotHubNames array

@description('Resource group holding those hubs (default: this one).')
param iotHubResourceGroup string = resourceGroup().name

@description('Hubs that are in another resource group than iotHubResourceGroup: { "<hub name>": "<resource group>" }.')
param iotHubResourceGroups object = {}

@description('How the app authenticates to the hubs (IOTHUB_AUTH). managedIdentity needs no secret; sharedAccessPolicy needs iotHubConnectionStringsSecretUri.')
@allowed([
  'managedIdentity'
  'sharedAccessPolicy'
])
param iotHubAuth string = 'managedIdentity'

@description('sharedAccessPolicy only: Key Vault secret URI whose value is the hubs\' connection strings separated by "|" (IOTHUB_CONNECTION_STRINGS, as a Key Vault reference). The identity needs "Key Vault Secrets User" on that vault (not granted here).')
param iotHubConnectionStringsSecretUri string = ''

@description('Existing storage accounts holding the jobs\' output containers, where the poller may write with the app\'s identity: [{ "name": "acct", "resourceGroup": "rg" (default this one), "containers": ["c1"] (default: the whole account) }]. Empty: the poller writes nothing (MONITOR_STORAGE_HOST_ALLOWLIST and MONITOR_IDENTITY_CONTAINERS stay empty).')
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

@description('Entra ID sign-in (App Service Authentication, "Easy Auth") in front of the whole app: browsers are sent to sign in, API callers need an Entra token for signInClientId. Function keys are still checked by the Functions host (docs/jobs-api.md, "Signing in instead of a key").')
param signInEnabled bool = false

@description('The client id of the Entra app registration that sign-in uses (required when signInEnabled).')
param signInClientId string = ''

@description('The Entra tenant users sign in to (default: this subscription\'s).')
param signInTenantId string = subscription().tenantId

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

var isFlex = hostingPlan == 'FlexConsumption'
var isConsumption = hostingPlan == 'Consumption'
var isPremium = hostingPlan == 'Premium'
var planSku = isFlex ? {
  name: 'FC1'
  tier: 'FlexConsumption'
} : isConsumption ? {
  name: 'Y1'
  tier: 'Dynamic'
} : {
  name: 'EP1'
  tier: 'ElasticPremium'
}
var storageAccountName = 'st${uniqueString(resourceGroup().id, appName)}'
var deploymentContainerName = 'app-package'
var contentShareName = take(toLower(replace(appName, '-', '')), 60)
var blobEndpointSuffix = 'blob.${environment().suffixes.storage}'
// Deployment names are per resource group: the app's name in them keeps two apps' deployments apart.
var deploymentSuffix = uniqueString(resourceGroup().id, appName)

// Where the poller may go (issue 9): nothing unless output accounts are listed. union() supplies the optional
// fields, so no expression reads a property an entry lacks.
var outputAccounts = [for a in outputStorageAccounts: union({
  resourceGroup: resourceGroup().name
  containers: []
}, a)]
var outputBlobHosts = [for a in outputAccounts: '${a.name}.${blobEndpointSuffix}']
var effectiveAllowlist = (!empty(monitorStorageHostAllowlist)) ? monitorStorageHostAllowlist : join(outputBlobHosts, ',')
// Per account: its listed containers, or the whole account (/*), plus the MONITOR_CONTAINER sibling.
// (Single-line expressions, string functions only: nothing here needs a Bicep newer than its for-expressions.)
var containerUrlsPerAccount = [for a in outputAccounts: empty(a.containers) ? concat('https://', a.name, '.', blobEndpointSuffix, '/*') : concat('https://', a.name, '.', blobEndpointSuffix, '/', join(a.containers, concat(',https://', a.name, '.', blobEndpointSuffix, '/')))]
var monitorUrlPerAccount = [for a in outputAccounts: empty(monitorContainer) ? '' : concat(',https://', a.name, '.', blobEndpointSuffix, '/', monitorContainer)]
var identityContainersPerAccount = [for (a, i) in outputAccounts: concat(containerUrlsPerAccount[i], monitorUrlPerAccount[i])]
var monitorIdentityContainers = join(identityContainersPerAccount, ',')

var principalId = useUserAssignedIdentity ? userIdentity.properties.principalId : functionApp.identity.principalId
var clientId = useUserAssignedIdentity ? userIdentity.properties.clientId : ''

// One worker thread per concurrent request (the Python worker's default is min(32, cores + 4), 5 on a 1-core
// instance), plus one for the timer where it shares the instance (Y1, EP1).
var pythonThreadCount = flexHttpPerInstanceConcurrency + 1

// app-settings:begin (tests/infra/test_settings_sources.py reads every `name: '...'` between these markers)
// Settings the app reads (shared/settings.py SETTING_NAMES). Not set here on purpose: IOTHUB_ENDPOINTS
// (endpoint override for the local devstack only) and AzureWebJobsStorage (replaced by
// AzureWebJobsStorage__accountName: identity-based host storage, no key).
var appReadSettings = [
  {
    // The cloud the template deploys to: hub suffix, IoT Hub token audience and storage suffix derive from it.
    name: 'AZURE_CLOUD'
    value: environment().name
  }
  {
    name: 'IOTHUB_HUBS'
    value: join(iotHubNames, ',')
  }
  {
    name: 'IOTHUB_AUTH'
    value: iotHubAuth
  }
  {
    name: 'IOTHUB_MANAGED_IDENTITY_CLIENT_ID'
    value: clientId
  }
  {
    name: 'IOTHUB_SAS_TTL_SECONDS'
    value: string(iotHubSasTtlSeconds)
  }
  {
    name: 'IOTHUB_API_VERSION'
    value: iotHubApiVersion
  }
  {
    name: 'IOTHUB_CONNECT_TIMEOUT_SECONDS'
    value: iotHubConnectTimeoutSeconds
  }
  {
    name: 'IOTHUB_READ_TIMEOUT_SECONDS'
    value: iotHubReadTimeoutSeconds
  }
  {
    name: 'IOTHUB_RETRY_BUDGET_SECONDS'
    value: iotHubRetryBudgetSeconds
  }
  {
    name: 'IOTHUB_MAX_ATTEMPTS'
    value: string(iotHubMaxAttempts)
  }
  {
    name: 'IOTHUB_CALLS_PER_MINUTE'
    value: iotHubCallsPerMinute
  }
  {
    name: 'GET_JOB_CACHE_TTL_SECONDS'
    value: getJobCacheTtlSeconds
  }
  {
    name: 'GET_JOB_TERMINAL_CACHE_SIZE'
    value: string(getJobTerminalCacheSize)
  }
  {
    name: 'GET_JOB_REDACT_SAS'
    value: getJobRedactSas ? 'true' : 'false'
  }
  {
    name: 'SHARED_CACHE_ENABLED'
    value: sharedCacheEnabled ? 'true' : 'false'
  }
  {
    name: 'SHARED_CACHE_CONTAINER'
    value: sharedCacheContainer
  }
  {
    name: 'SHARED_CACHE_MAX_ENTRIES'
    value: string(sharedCacheMaxEntries)
  }
  {
    name: 'POLL_SCHEDULE'
    value: pollSchedule
  }
  {
    name: 'MONITOR_PREFIX'
    value: monitorPrefix
  }
  {
    name: 'MONITOR_CONTAINER'
    value: monitorContainer
  }
  {
    name: 'MONITOR_STATE_CONTAINER'
    value: monitorStateContainer
  }
  {
    name: 'MONITOR_REPORTS_CONTAINER'
    value: monitorReportsContainer
  }
  {
    name: 'MONITOR_STALL_AFTER_MINUTES'
    value: string(monitorStallAfterMinutes)
  }
  {
    name: 'MONITOR_BACKFILL_HOURS'
    value: string(monitorBackfillHours)
  }
  {
    name: 'MONITOR_STORAGE_HOST_ALLOWLIST'
    value: effectiveAllowlist
  }
  {
    name: 'MONITOR_IDENTITY_CONTAINERS'
    value: monitorIdentityContainers
  }
  {
    name: 'MONITOR_STORAGE_CLIENT_ID'
    value: clientId
  }
  {
    name: 'MONITOR_TICK_BUDGET_SECONDS'
    value: string(monitorTickBudgetSeconds)
  }
  {
    name: 'MONITOR_IDLE_LIST_SECONDS'
    value: string(monitorIdleListSeconds)
  }
  {
    name: 'MONITOR_RECENT_END_MINUTES'
    value: monitorRecentEndMinutes
  }
  {
    name: 'STATUS_PAGE_DAYS'
    value: statusPageDays
  }
]

// Hub connection strings only in sharedAccessPolicy mode, and only as a Key Vault reference.
var sharedAccessSettings = (iotHubAuth == 'sharedAccessPolicy') ? [
  {
    name: 'IOTHUB_CONNECTION_STRINGS'
    value: '@Microsoft.KeyVault(SecretUri=${iotHubConnectionStringsSecretUri})'
  }
] : []

// Host storage by identity (the app reads AzureWebJobsStorage__accountName too, for its state).
var hostStorageSettings = concat([
  {
    name: 'AzureWebJobsStorage__accountName'
    value: storage.name
  }
], useUserAssignedIdentity ? [
  {
    name: 'AzureWebJobsStorage__credential'
    value: 'managedidentity'
  }
  {
    name: 'AzureWebJobsStorage__clientId'
    value: clientId
  }
] : [])

// Telemetry with Entra ID authentication (local authentication is disabled on the component).
var telemetrySettings = [
  {
    name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
    value: appInsights.properties.ConnectionString
  }
  {
    name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'
    value: useUserAssignedIdentity ? 'ClientId=${clientId};Authorization=AAD' : 'Authorization=AAD'
  }
]

// The worker's thread pool sized to the HTTP concurrency (see pythonThreadCount).
var workerSettings = [
  {
    name: 'PYTHON_THREADPOOL_THREAD_COUNT'
    value: string(pythonThreadCount)
  }
]

// Flex Consumption takes runtime and version from functionAppConfig and rejects these two settings.
var classicRuntimeSettings = isFlex ? [] : [
  {
    name: 'FUNCTIONS_EXTENSION_VERSION'
    value: '~4'
  }
  {
    name: 'FUNCTIONS_WORKER_RUNTIME'
    value: 'python'
  }
]

// Consumption (Linux): run from a package blob fetched with the app's identity, once one is published.
var consumptionPackageSettings = (isConsumption && !empty(consumptionPackageUrl)) ? [
  {
    name: 'WEBSITE_RUN_FROM_PACKAGE'
    value: consumptionPackageUrl
  }
  {
    name: 'WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID'
    value: useUserAssignedIdentity ? userIdentity.id : 'SystemAssigned'
  }
] : []

// Premium (EP1): content share on Azure Files, which accepts only a key connection string.
var premiumContentSettings = isPremium ? [
  {
    name: 'WEBSITE_CONTENTAZUREFILECONNECTIONSTRING'
    value: 'DefaultEndpointsProtocol=https;AccountName=${storage.name};EndpointSuffix=${environment().suffixes.storage};AccountKey=${storage.listKeys().keys[0].value}'
  }
  {
    name: 'WEBSITE_CONTENTSHARE'
    value: contentShareName
  }
  {
    name: 'WEBSITE_RUN_FROM_PACKAGE'
    value: '1'
  }
] : []
// app-settings:end

var appSettings = concat(appReadSettings, sharedAccessSettings, hostStorageSettings, telemetrySettings, workerSettings, classicRuntimeSettings, consumptionPackageSettings, premiumContentSettings)

// What a Flex site accepts in siteConfig (Microsoft's Flex samples set no more); everything else is Y1/EP1 only.
var flexSiteConfig = {
  minTlsVersion: '1.2'
  appSettings: appSettings
}
var classicSiteConfig = union(flexSiteConfig, {
  linuxFxVersion: 'Python|3.11'
  scmMinTlsVersion: '1.2'
  ftpsState: 'Disabled'
  http20Enabled: true
  functionAppScaleLimit: scaleLimit
})

// ---------------------------------------------------------------------------------------------------------------
// Monitoring
// ---------------------------------------------------------------------------------------------------------------

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: 'log-${appName}'
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: logRetentionDays
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: 'appi-${appName}'
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalytics.id
    DisableLocalAuth: true
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The app's own storage account (host coordination, function keys, timer locks, poller state, Flex package)
// ---------------------------------------------------------------------------------------------------------------

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_43:The name is an expression ('st' + uniqueString = 15 lowercase letters and digits), valid but not evaluable by checkov
  // checkov:skip=CKV_AZURE_35:Default action Allow: the function host reaches this account over its public endpoint (no VNet integration or private endpoint in this template); data access is by Entra ID roles (plus the account key on EP1 only)
  // checkov:skip=CKV_AZURE_59:Public network access stays enabled for the same reason as CKV_AZURE_35; anonymous blob access is off (allowBlobPublicAccess false)
  // checkov:skip=CKV_AZURE_206:Standard_LRS holds host state, keys and poller state that the app can rebuild; choose ZRS/GRS in the sku if your policy demands
  name: storageAccountName
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
    allowSharedKeyAccess: isPremium
    defaultToOAuthAuthentication: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

// The poller's state: created here so that its role can be scoped to it (an identity cannot create a container
// with a role on other containers only).
resource stateContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: monitorStateContainer
  properties: {
    publicAccess: 'None'
  }
}

// get_job's shared cache and the hubs' call budgets (shared by every instance): created here too, for the same reason.
resource sharedCacheContainerResource 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: sharedCacheContainer
  properties: {
    publicAccess: 'None'
  }
}

// The app's copies of the reports it serves (same reasons as the state container).
resource reportsContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: monitorReportsContainer
  properties: {
    publicAccess: 'None'
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Identity, plan and app
// ---------------------------------------------------------------------------------------------------------------

resource userIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = if (useUserAssignedIdentity) {
  name: 'id-${appName}'
  location: location
  tags: tags
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225:Zone redundancy is a plan and region choice left to the operator; a 5-minute poller and a read-only proxy tolerate a zone outage
  name: 'plan-${appName}'
  location: location
  tags: tags
  kind: isPremium ? 'elastic' : 'functionapp'
  sku: planSku
  properties: {
    reserved: true
    maximumElasticWorkerCount: isPremium ? premiumMaximumElasticWorkerCount : null
  }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_16:A managed identity is always enabled (SystemAssigned, or UserAssigned with the identity created here); the check cannot evaluate the conditional type
  // checkov:skip=CKV_AZURE_222:Internal callers reach get_job over the public endpoint with a function key; add access restrictions or a private endpoint if your network demands
  // checkov:skip=CKV_AZURE_17:Client certificates are not used: callers authenticate with function keys (authLevel function)
  // checkov:skip=CKV_AZURE_212:Instance counts belong to the plan (Flex and Consumption scale from zero); no fixed minimum is wanted
  // checkov:skip=CKV_AZURE_213:The app has no health-check endpoint (get_job needs a function key and a job id), so there is nothing for a health check to probe
  // checkov:skip=CKV_AZURE_78:FTPS is disabled on Y1/EP1 (classicSiteConfig.ftpsState); Flex Consumption has no FTP and rejects the property (error 51021), and FTP basic auth is off below
  // checkov:skip=CKV_AZURE_18:HTTP/2 is on for Y1/EP1 (classicSiteConfig.http20Enabled); Flex Consumption takes no such siteConfig property
  // checkov:skip=CKV_AZURE_67:Same as CKV_AZURE_18 (the function-app variant of the check)
  // checkov:skip=CKV_AZURE_15:minTlsVersion 1.2 is set on every plan, in flexSiteConfig and classicSiteConfig (variables checkov does not resolve; tests/infra/test_flex_rules.py checks it)
  name: appName
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: {
    type: useUserAssignedIdentity ? 'UserAssigned' : 'SystemAssigned'
    userAssignedIdentities: useUserAssignedIdentity ? {
      '${userIdentity.id}': {}
    } : null
  }
  // The Flex deployment storage names the container; it must exist before the site does.
  dependsOn: [
    deploymentContainer
  ]
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    keyVaultReferenceIdentity: useUserAssignedIdentity ? userIdentity.id : 'SystemAssigned'
    functionAppConfig: isFlex ? {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: useUserAssignedIdentity ? {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: userIdentity.id
          } : {
            type: 'SystemAssignedIdentity'
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: flexMaximumInstanceCount
        instanceMemoryMB: flexInstanceMemoryMB
        triggers: {
          http: {
            perInstanceConcurrency: flexHttpPerInstanceConcurrency
          }
        }
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    } : null
    siteConfig: isFlex ? flexSiteConfig : classicSiteConfig
  }
}

// Entra ID sign-in in front of the app (App Service Authentication; Flex Consumption supports it). Unauthenticated
// browsers are redirected to sign in, other callers get 401; the Functions host still checks function keys after it.
resource signIn 'Microsoft.Web/sites/config@2024-04-01' = if (signInEnabled) {
  // checkov:skip=CKV_AZURE_13:This resource is App Service Authentication itself (checkov reads every sites/config as a site)
  // checkov:skip=CKV_AZURE_63:HTTP logging is the site's logs config, not authsettingsV2; the app logs to Application Insights
  // checkov:skip=CKV_AZURE_65:Detailed error messages are the site's logs config, not authsettingsV2
  // checkov:skip=CKV_AZURE_66:Failed request tracing is the site's logs config, not authsettingsV2
  // checkov:skip=CKV_AZURE_222:Public network access is the site's setting (skipped there with its reason); sign-in narrows who gets through it
  // checkov:skip=CKV_AZURE_80:A Python app: no .NET Framework version
  // checkov:skip=CKV_AZURE_88:Azure Files is a site storage setting (Flex has none); not an authsettingsV2 property
  parent: functionApp
  name: 'authsettingsV2'
  properties: {
    platform: {
      enabled: true
    }
    globalValidation: {
      requireAuthentication: true
      unauthenticatedClientAction: 'RedirectToLoginPage'
      redirectToProvider: 'azureactivedirectory'
    }
    httpSettings: {
      requireHttps: true
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: signInClientId
          openIdIssuer: '${environment().authentication.loginEndpoint}${signInTenantId}/v2.0'
        }
        validation: {
          allowedAudiences: [
            'api://${signInClientId}'
            signInClientId
          ]
        }
      }
    }
    login: {
      tokenStore: {
        enabled: false
      }
    }
  }
}

// Basic (user name and password) publishing credentials off for FTP and for the SCM (Kudu) site.
resource ftpBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'scm'
  properties: {
    allow: false
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
    storageAccountName: storage.name
    stateContainerName: stateContainer.name
    sharedCacheContainerName: sharedCacheContainerResource.name
    reportsContainerName: reportsContainer.name
    appInsightsName: appInsights.name
    principalId: principalId
    grantTableAccess: grantHostTableAccess
    grantQueueAccess: grantHostQueueAccess
  }
}

// IoT Hub Data Reader on each monitored hub.
module hubReaders 'modules/iothub-reader.bicep' = [for hubName in iotHubNames: {
  name: take('hub-reader-${hubName}-${deploymentSuffix}', 64)
  scope: resourceGroup(contains(iotHubResourceGroups, hubName) ? iotHubResourceGroups[hubName] : iotHubResourceGroup)
  params: {
    hubName: hubName
    principalId: principalId
  }
}]

// Storage Blob Data Contributor where snapshots and reports are written; MONITOR_CONTAINER created there.
module blobWriters 'modules/blob-writer.bicep' = [for account in outputAccounts: {
  name: take('blob-writer-${account.name}-${deploymentSuffix}', 64)
  scope: resourceGroup(account.resourceGroup)
  params: {
    accountName: account.name
    containers: account.containers
    monitorContainer: monitorContainer
    principalId: principalId
  }
}]

// ---------------------------------------------------------------------------------------------------------------
// Operators' alerts: scheduled query rules on the app's JSON log lines (Application Insights `traces`).
// The queries are the .kql files in infra/alerts/, tested against the app's own log output
// (tests/infra/test_alert_queries.py); __NAME__ placeholders are filled here. Runbook: docs/operations.md.
// ---------------------------------------------------------------------------------------------------------------

// Conditions and arithmetic are parenthesized: pycep (checkov's parser) binds `a <= b ? x : y` as
// `a <= (b ? x : y)` and `2 * a + b` as `2 * (a + b)`; the tests evaluate what pycep reads.
// Look-backs in minutes. Tick-based rules look back far enough to see every tick they reason about.
var eventLookbackMinutes = 5
var missingTickLookbackMinutes = (2 * pollIntervalMinutes) + alertIngestionMarginMinutes
var hubFailingLookbackMinutes = ((alertHubFailingTicks + 1) * pollIntervalMinutes) + alertIngestionMarginMinutes
// windowSize takes fixed durations only; each query narrows it with its own ago().
var missingTickWindow = (missingTickLookbackMinutes <= 60) ? 'PT1H' : 'PT6H'
var hubFailingWindow = (hubFailingLookbackMinutes <= 60) ? 'PT1H' : ((hubFailingLookbackMinutes <= 360) ? 'PT6H' : 'P1D')

// One alert per value of a dimension column (hub, jobId, ...).
var includeAll = {
  operator: 'Include'
  values: [
    '*'
  ]
}

var alertRules = [
  {
    key: 'report-written'
    enabled: alertOnReportWritten
    displayName: '${appName}: report written'
    description: 'A job failed or was cancelled, or an import completed with rejected lines, and the poller wrote its report. Runbook: docs/operations.md, "Alert: report written".'
    severity: 2
    windowSize: 'PT5M'
    query: replace(loadTextContent('alerts/report-written.kql'), '__LOOKBACK__', '${eventLookbackMinutes}m')
    dimensions: [
      union(includeAll, {
        name: 'hub'
      })
      union(includeAll, {
        name: 'jobId'
      })
      union(includeAll, {
        name: 'hint'
      })
    ]
  }
  {
    key: 'job-stalled'
    enabled: alertOnJobStalled
    displayName: '${appName}: job stalled'
    description: 'An active job has not moved for MONITOR_STALL_AFTER_MINUTES. Runbook: docs/operations.md, "Alert: job stalled".'
    severity: 2
    windowSize: 'PT5M'
    query: replace(loadTextContent('alerts/job-stalled.kql'), '__LOOKBACK__', '${eventLookbackMinutes}m')
    dimensions: [
      union(includeAll, {
        name: 'hub'
      })
      union(includeAll, {
        name: 'jobId'
      })
    ]
  }
  {
    key: 'hub-failing'
    enabled: alertOnHubFailing
    displayName: '${appName}: hub failing ${alertHubFailingTicks} ticks in a row'
    description: 'The poller could not list a hub\'s jobs in each of its last ${alertHubFailingTicks} ticks. Runbook: docs/operations.md, "Alert: hub failing".'
    severity: 1
    windowSize: hubFailingWindow
    query: replace(replace(loadTextContent('alerts/hub-failing.kql'), '__LOOKBACK__', '${hubFailingLookbackMinutes}m'), '__TICKS__', string(alertHubFailingTicks))
    dimensions: [
      union(includeAll, {
        name: 'hub'
      })
    ]
  }
  {
    key: 'missing-tick'
    enabled: alertOnMissingTick
    displayName: '${appName}: no poller tick'
    description: 'No poll_job_timer tick was logged for two poll periods (${2 * pollIntervalMinutes} min) plus ${alertIngestionMarginMinutes} min of ingestion margin: the timer stopped or the app cannot start. Runbook: docs/operations.md, "Alert: no tick".'
    severity: 1
    windowSize: missingTickWindow
    query: replace(loadTextContent('alerts/missing-tick.kql'), '__LOOKBACK__', '${missingTickLookbackMinutes}m')
    dimensions: []
  }
  {
    key: 'get-job-errors'
    enabled: alertOnGetJobErrors
    displayName: '${appName}: get_job 5xx/429'
    description: 'get_job answered 5xx or 429 at least ${alertGetJobErrorThreshold} times in ${alertGetJobErrorWindowMinutes} minutes. Runbook: docs/operations.md, "Alert: get_job errors".'
    severity: 2
    windowSize: 'PT${alertGetJobErrorWindowMinutes}M'
    query: replace(replace(loadTextContent('alerts/get-job-errors.kql'), '__LOOKBACK__', '${alertGetJobErrorWindowMinutes}m'), '__THRESHOLD__', string(alertGetJobErrorThreshold))
    dimensions: []
  }
]

resource alertActionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = if (deployAlerts && !empty(alertEmail)) {
  name: 'ag-${appName}'
  location: 'Global'
  tags: tags
  properties: {
    groupShortName: 'jobmonitor'
    enabled: true
    emailReceivers: [
      {
        name: 'operators'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

// Each query returns one row per thing to act on (already filtered); the rule fires when it returns any row,
// one alert per combination of the listed dimensions.
resource alerts 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = [for rule in alertRules: if (deployAlerts && rule.enabled) {
  name: 'alert-${appName}-${rule.key}'
  location: location
  tags: tags
  properties: {
    displayName: rule.displayName
    description: rule.description
    severity: rule.severity
    enabled: true
    evaluationFrequency: 'PT5M'
    windowSize: rule.windowSize
    scopes: [
      appInsights.id
    ]
    criteria: {
      allOf: [
        {
          query: rule.query
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          dimensions: rule.dimensions
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: empty(alertEmail) ? [] : [
        alertActionGroup.id
      ]
    }
  }
}]

// ---------------------------------------------------------------------------------------------------------------
// Outputs
// ---------------------------------------------------------------------------------------------------------------

output functionAppName string = functionApp.name
output functionAppHostName string = functionApp.properties.defaultHostName
output principalId string = principalId
output identityClientId string = clientId
output storageAccountName string = storage.name
output deploymentContainerUrl string = '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
output stateContainerName string = stateContainer.name
output applicationInsightsName string = appInsights.name
output monitorStorageHostAllowlist string = effectiveAllowlist
output monitorIdentityContainers string = monitorIdentityContainers
