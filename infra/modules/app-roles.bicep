// The function app identity's roles on its own storage account and Application Insights, each named after the
// principal id (a recreated app has a new principal: new names, no RoleAssignmentUpdateNotPermitted).
// Deployed with scope = the app's resource group (see main.bicep).
//
// Why each role:
// - Storage Blob Data Owner on the account: Microsoft's minimum for host storage by identity
//   (AzureWebJobsStorage__accountName). The host creates its own containers (azure-webjobs-hosts,
//   azure-webjobs-secrets), keeps function keys, host coordination and timer locks there, and reads the Flex
//   deployment package / the Y1 package blob. Creating containers needs account scope, so it cannot be narrower.
// - Storage Blob Data Contributor on the state container: the poller's own need (MONITOR_STATE_CONTAINER). The
//   host's account-wide role covers it today, since both share one identity; this assignment states the app's need
//   on its own, so it survives the day the host's role is narrowed or moved to another identity.
// - Storage Blob Data Contributor on the shared-cache container (SHARED_CACHE_CONTAINER): get_job's shared cache
//   and the hubs' call budgets, read and written by every instance; for the same reason.
// - Storage Blob Data Contributor on the reports container (MONITOR_REPORTS_CONTAINER): the app's copies of the
//   reports it serves, written by the poller and read by the report and status routes; for the same reason.
// - Storage Table Data Contributor (optional, grantTableAccess): the host's diagnostic events.
// - Storage Queue Data Contributor (optional, grantQueueAccess): blob triggers and Durable Functions only; unused here.
// - Monitoring Metrics Publisher on Application Insights: telemetry with Entra ID (local auth is off).

@description('Name of the app\'s storage account (AzureWebJobsStorage__accountName), in this resource group.')
param storageAccountName string

@description('The poller\'s state container in that account (MONITOR_STATE_CONTAINER).')
param stateContainerName string

@description('The shared cache\'s container in that account (SHARED_CACHE_CONTAINER).')
param sharedCacheContainerName string

@description('The container of the app\'s report copies in that account (MONITOR_REPORTS_CONTAINER).')
param reportsContainerName string

@description('Application Insights component receiving the app\'s telemetry, in this resource group.')
param appInsightsName string

@description('Object (principal) id of the app\'s identity.')
param principalId string

@description('Grant Storage Table Data Contributor (host diagnostic events).')
param grantTableAccess bool = true

@description('Grant Storage Queue Data Contributor (blob triggers, Durable Functions).')
param grantQueueAccess bool = false

// Built-in role definition ids.
var roleStorageBlobDataOwner = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
var roleStorageBlobDataContributor = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
var roleStorageQueueDataContributor = '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
var roleStorageTableDataContributor = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
var roleMonitoringMetricsPublisher = '3913510d-42f4-4e42-8a64-420c390055eb'

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource stateContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  name: '${storageAccountName}/default/${stateContainerName}'
}

resource sharedCacheContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  name: '${storageAccountName}/default/${sharedCacheContainerName}'
}

resource reportsContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  name: '${storageAccountName}/default/${reportsContainerName}'
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource hostBlobOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, principalId, roleStorageBlobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleStorageBlobDataOwner)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource stateWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(stateContainer.id, principalId, roleStorageBlobDataContributor)
  scope: stateContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleStorageBlobDataContributor)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource sharedCacheWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(sharedCacheContainer.id, principalId, roleStorageBlobDataContributor)
  scope: sharedCacheContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleStorageBlobDataContributor)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource reportsWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(reportsContainer.id, principalId, roleStorageBlobDataContributor)
  scope: reportsContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleStorageBlobDataContributor)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource hostTableContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (grantTableAccess) {
  name: guid(storage.id, principalId, roleStorageTableDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleStorageTableDataContributor)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource hostQueueContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (grantQueueAccess) {
  name: guid(storage.id, principalId, roleStorageQueueDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleStorageQueueDataContributor)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource telemetryPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, principalId, roleMonitoringMetricsPublisher)
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleMonitoringMetricsPublisher)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
