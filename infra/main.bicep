// IoT Hub import/export job monitor: a Linux Python 3.11 Function App (get_job + poll_job_timer) with
// Application Insights, its own storage account reached by managed identity, and least-privilege role assignments.
//
// Deploy: az deployment group create -g <rg> -f infra/main.bicep -p infra/main.parameters.json (README, "Deploy").
// Validate here: bash infra/check.sh (checkov; the Bicep compiler is not available on the build machines).
//
// Keys: none on the default plan (Flex Consumption). The app's storage account allows Shared Key only on
// Premium (EP1), whose content share on Azure Files takes nothing but a key connection string
// (WEBSITE_CONTENTAZUREFILECONNECTIONSTRING). Consumption (Y1) runs from a package URL fetched with the
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

@description('Flex Consumption only: most instances the app may scale out to.')
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

@description('Consumption (Y1) only: URL of the app package blob (https://<account>.blob.core.windows.net/app-package/<file>.zip) in this app\'s storage account; the app fetches it with its managed identity. Empty until the first publish (README, "Deploy").')
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

@description('Storage accounts holding the jobs\' output containers, where the poller writes snapshots and reports: [{ "name": "acct", "resourceGroup": "rg" (optional, default this one), "containers": ["c1"] (optional, default whole account) }].')
param outputStorageAccounts array = []

@description('MONITOR_STORAGE_HOST_ALLOWLIST: comma-separated host patterns the poller may write to. Empty = exactly the blob hosts of outputStorageAccounts (none when that list is empty: nothing is written).')
param monitorStorageHostAllowlist string = ''

@description('POLL_SCHEDULE: 6-field NCRONTAB schedule of poll_job_timer.')
param pollSchedule string = '0 */5 * * * *'

@description('MONITOR_PREFIX: blob path prefix of snapshots and reports inside the output container.')
param monitorPrefix string = 'jobmonitor'

@description('MONITOR_CONTAINER: if set, write into this sibling container of each job\'s storage account instead of beside the job\'s output. Grant it in outputStorageAccounts[].containers when you scope by container.')
param monitorContainer string = ''

@description('MONITOR_STATE_CONTAINER: container of the poller\'s state in the app\'s own storage account.')
param monitorStateContainer string = 'jobmonitor-state'

@description('MONITOR_STALL_AFTER_MINUTES: an active job unchanged this long is marked stalled.')
param monitorStallAfterMinutes int = 120

@description('MONITOR_BACKFILL_HOURS: on the first run against a hub, jobs that ended longer ago are recorded as seen, not reported.')
param monitorBackfillHours int = 24

@description('MONITOR_TICK_BUDGET_SECONDS: time budget of one tick; keep it under functionTimeout in host.json (5 min).')
param monitorTickBudgetSeconds int = 240

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

@description('Also grant "Storage Queue Data Contributor" on the app\'s own storage account. Not needed by HTTP and timer triggers; Microsoft lists it for blob triggers and Durable Functions.')
param grantHostQueueAccess bool = false

@description('Days of retention in the Log Analytics workspace behind Application Insights.')
@minValue(30)
@maxValue(730)
param logRetentionDays int = 30

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
var outputBlobHosts = [for a in outputStorageAccounts: '${a.name}.${blobEndpointSuffix}']
var effectiveAllowlist = !empty(monitorStorageHostAllowlist) ? monitorStorageHostAllowlist : join(outputBlobHosts, ',')
// Where the app's identity may write: each listed container, or every container (`*`) of an account listed
// without containers. Empty: the identity writes nowhere.
// (join with the account URL in the separator: https://acct.../c1,https://acct.../c2)
var identityContainerLists = [for a in outputStorageAccounts: 'https://${a.name}.${blobEndpointSuffix}/${contains(a, 'containers') && !empty(a.containers) ? join(a.containers, ',https://${a.name}.${blobEndpointSuffix}/') : '*'}']
var identityContainers = join(identityContainerLists, ',')
var principalId = useUserAssignedIdentity ? userIdentity.properties.principalId : functionApp.identity.principalId
var clientId = useUserAssignedIdentity ? userIdentity.properties.clientId : ''

// Built-in role definition ids.
var roleStorageBlobDataOwner = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
var roleStorageQueueDataContributor = '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
var roleStorageTableDataContributor = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
var roleMonitoringMetricsPublisher = '3913510d-42f4-4e42-8a64-420c390055eb'

// app-settings:begin (tests/test_infra.py reads every `name: '...'` between these markers)
// Settings the app reads (shared/settings.py SETTING_NAMES). Not set here on purpose: IOTHUB_ENDPOINTS
// (endpoint override for the local devstack only) and AzureWebJobsStorage (replaced by
// AzureWebJobsStorage__accountName: identity-based host storage, no key).
var appReadSettings = [
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
    value: identityContainers
  }
  {
    name: 'MONITOR_STORAGE_CLIENT_ID'
    value: clientId
  }
  {
    name: 'MONITOR_TICK_BUDGET_SECONDS'
    value: string(monitorTickBudgetSeconds)
  }
]

// Hub connection strings only in sharedAccessPolicy mode, and only as a Key Vault reference.
var sharedAccessSettings = iotHubAuth == 'sharedAccessPolicy' ? [
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
var consumptionPackageSettings = isConsumption && !empty(consumptionPackageUrl) ? [
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

var appSettings = concat(appReadSettings, sharedAccessSettings, hostStorageSettings, telemetrySettings, classicRuntimeSettings, consumptionPackageSettings, premiumContentSettings)

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
    maximumElasticWorkerCount: isPremium ? 20 : null
  }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_16:A managed identity is always enabled (SystemAssigned, or UserAssigned with the identity created here); the check cannot evaluate the conditional type
  // checkov:skip=CKV_AZURE_222:Internal callers reach get_job over the public endpoint with a function key; add access restrictions or a private endpoint if your network demands
  // checkov:skip=CKV_AZURE_17:Client certificates are not used: callers authenticate with function keys (authLevel function)
  // checkov:skip=CKV_AZURE_212:Instance counts belong to the plan (Flex and Consumption scale from zero); no fixed minimum is wanted
  // checkov:skip=CKV_AZURE_213:The app has no health-check endpoint (get_job needs a function key and a job id), so there is nothing for a health check to probe
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
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    } : null
    siteConfig: {
      linuxFxVersion: isFlex ? null : 'Python|3.11'
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      appSettings: appSettings
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
// Role assignments
// ---------------------------------------------------------------------------------------------------------------

// Host storage by identity: Storage Blob Data Owner is Microsoft's minimum for the host (coordination, keys,
// timer locks); Table Data Contributor lets the host persist diagnostic events. The poller's state container
// lives in this account, covered by Blob Data Owner.
resource hostBlobOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, appName, string(useUserAssignedIdentity), roleStorageBlobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleStorageBlobDataOwner)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource hostTableContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, appName, string(useUserAssignedIdentity), roleStorageTableDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleStorageTableDataContributor)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource hostQueueContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (grantHostQueueAccess) {
  name: guid(storage.id, appName, string(useUserAssignedIdentity), roleStorageQueueDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleStorageQueueDataContributor)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

// Telemetry ingestion with Entra ID (APPLICATIONINSIGHTS_AUTHENTICATION_STRING).
resource telemetryPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, appName, string(useUserAssignedIdentity), roleMonitoringMetricsPublisher)
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleMonitoringMetricsPublisher)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

// IoT Hub Data Reader on each monitored hub.
module hubReaders 'modules/iothub-reader.bicep' = [for hubName in iotHubNames: {
  name: 'hub-reader-${hubName}'
  scope: resourceGroup(contains(iotHubResourceGroups, hubName) ? iotHubResourceGroups[hubName] : iotHubResourceGroup)
  params: {
    hubName: hubName
    principalId: principalId
  }
}]

// Storage Blob Data Contributor where snapshots and reports are written.
module blobWriters 'modules/blob-writer.bicep' = [for account in outputStorageAccounts: {
  name: 'blob-writer-${account.name}'
  scope: resourceGroup(contains(account, 'resourceGroup') ? account.resourceGroup : resourceGroup().name)
  params: {
    accountName: account.name
    containers: contains(account, 'containers') ? account.containers : []
    principalId: principalId
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
output applicationInsightsName string = appInsights.name
