// The app's settings: every setting the app's code reads (shared/settings SETTING_NAMES, less the two left out
// on purpose below), its host storage by identity, its telemetry and the worker's thread pool. No resources: the
// output is the site's appSettings (modules/site.bicep adds each plan's own). The parameters are main.bicep's
// (of the same name where main has one), which documents and bounds them. No secret passes through here: the hub
// connection strings are a Key Vault reference, the telemetry connection string ingests nothing without Entra ID.

// The hubs and how the app calls them.
@description('IOTHUB_HUBS.')
param iotHubNames array
@description('IOTHUB_AUTH: managedIdentity or sharedAccessPolicy.')
param iotHubAuth string
@description('sharedAccessPolicy only: Key Vault secret URI of IOTHUB_CONNECTION_STRINGS.')
param iotHubConnectionStringsSecretUri string
@description('IOTHUB_AUDIENCE (empty: the cloud\'s).')
param iotHubAudience string
@description('IOTHUB_API_VERSION.')
param iotHubApiVersion string
@description('IOTHUB_SAS_TTL_SECONDS.')
param iotHubSasTtlSeconds int
@description('IOTHUB_CONNECT_TIMEOUT_SECONDS (decimal string).')
param iotHubConnectTimeoutSeconds string
@description('IOTHUB_READ_TIMEOUT_SECONDS (decimal string).')
param iotHubReadTimeoutSeconds string
@description('IOTHUB_RETRY_BUDGET_SECONDS (decimal string).')
param iotHubRetryBudgetSeconds string
@description('IOTHUB_MAX_ATTEMPTS.')
param iotHubMaxAttempts int
@description('IOTHUB_CALLS_PER_MINUTE.')
param iotHubCallsPerMinute string

// get_job and the shared cache.
@description('GET_JOB_CACHE_TTL_SECONDS.')
param getJobCacheTtlSeconds string
@description('GET_JOB_TERMINAL_CACHE_SIZE.')
param getJobTerminalCacheSize int
@description('GET_JOB_REDACT_SAS.')
param getJobRedactSas bool
@description('SHARED_CACHE_ENABLED.')
param sharedCacheEnabled bool
@description('SHARED_CACHE_CONTAINER.')
param sharedCacheContainer string
@description('SHARED_CACHE_MAX_ENTRIES.')
param sharedCacheMaxEntries int

// The poller.
@description('POLL_SCHEDULE.')
param pollSchedule string
@description('MONITOR_PREFIX.')
param monitorPrefix string
@description('MONITOR_CONTAINER.')
param monitorContainer string
@description('MONITOR_STATE_CONTAINER.')
param monitorStateContainer string
@description('MONITOR_REPORTS_CONTAINER.')
param monitorReportsContainer string
@description('MONITOR_STALL_AFTER_MINUTES.')
param monitorStallAfterMinutes int
@description('MONITOR_BACKFILL_HOURS.')
param monitorBackfillHours int
@description('MONITOR_TICK_BUDGET_SECONDS.')
param monitorTickBudgetSeconds int
@description('MONITOR_IDLE_LIST_SECONDS.')
param monitorIdleListSeconds int
@description('MONITOR_RECENT_END_MINUTES.')
param monitorRecentEndMinutes string
@description('STATUS_PAGE_DAYS.')
param statusPageDays string
@description('MONITOR_STORAGE_HOST_ALLOWLIST as main.bicep resolves it (its override, or the output accounts\' hosts).')
param effectiveAllowlist string
@description('MONITOR_IDENTITY_CONTAINERS as main.bicep builds it from outputStorageAccounts.')
param monitorIdentityContainers string

// Identities, host storage and telemetry (the modules' outputs, as main.bicep passes them).
@description('The host uses its user-assigned identity (clientId) instead of the system-assigned one.')
param useUserAssignedIdentity bool
@description('Client id of the host\'s user-assigned identity (empty without one).')
param clientId string
@description('Client id of the jobs identity (MONITOR_STORAGE_CLIENT_ID).')
param jobsClientId string
@description('Blob service URI of the app\'s own account (modules/storage.bicep).')
param blobServiceUri string
@description('Queue service URI of the app\'s own account.')
param queueServiceUri string
@description('Table service URI of the app\'s own account.')
param tableServiceUri string
@description('Application Insights connection string (modules/monitoring.bicep; ingests nothing without Entra ID).')
param appInsightsConnectionString string
@description('Flex: concurrent HTTP requests per instance (sizes the worker\'s thread pool).')
param flexHttpPerInstanceConcurrency int

// One worker thread per concurrent request (the Python worker's default is min(32, cores + 4), 5 on a 1-core
// instance), plus one for the timer where it shares the instance (Y1, EP1).
var pythonThreadCount = flexHttpPerInstanceConcurrency + 1

// app-settings:begin (tests/infra/test_settings_sources.py reads every `name: '...'` between these markers)
// Settings the app reads (shared/settings.py SETTING_NAMES). Not set here on purpose: IOTHUB_ENDPOINTS
// (endpoint override for the local devstack only) and AzureWebJobsStorage (replaced by the
// AzureWebJobsStorage__*ServiceUri settings: identity-based host storage, no key).
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
    name: 'IOTHUB_AUDIENCE'
    value: iotHubAudience
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
    value: jobsClientId
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

// Host storage by identity, through the account's own service URIs: right in every cloud, where
// AzureWebJobsStorage__accountName is valid only in the public one (Learn, Functions reference, "Connecting to
// host storage with an identity"). The app reads the blob URI too, for its state, cache and report copies.
// The app reaches its own account with the host's identity (__clientId, or the system-assigned one), never
// with the jobs identity (shared/poller/storage.py state_container).
var hostStorageSettings = concat([
  {
    name: 'AzureWebJobsStorage__blobServiceUri'
    value: blobServiceUri
  }
  {
    name: 'AzureWebJobsStorage__queueServiceUri'
    value: queueServiceUri
  }
  {
    name: 'AzureWebJobsStorage__tableServiceUri'
    value: tableServiceUri
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
    value: appInsightsConnectionString
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

// The plan's own settings (runtime, package, EP1 content share) are added in modules/site.bicep.
// app-settings:end

output settings array = concat(appReadSettings, sharedAccessSettings, hostStorageSettings, telemetrySettings, workerSettings)
