// The app's own storage account: host coordination, function keys, timer locks, the poller's state, get_job's
// shared cache, the app's report copies and the Flex deployment package. Reached by Entra ID roles
// (modules/app-roles.bicep); Shared Key only on Premium (EP1), whose content share takes nothing but a key.
// The key never leaves this account as an output: the site module reads it with listKeys() (outputs are stored
// in the deployment's history in clear).

@description('Azure region of the account.')
param location string

@description('Name of the account (\'st\' + uniqueString: 15 lowercase letters and digits).')
param storageAccountName string

@description('Allow Shared Key: Premium (EP1) only, for its content share on Azure Files.')
param allowSharedKeyAccess bool

@description('Container of the Flex deployment package.')
param deploymentContainerName string

@description('MONITOR_STATE_CONTAINER: the poller\'s state.')
param stateContainerName string

@description('SHARED_CACHE_CONTAINER: get_job\'s shared cache and the hubs\' call budgets.')
param sharedCacheContainerName string

@description('MONITOR_REPORTS_CONTAINER: the app\'s copies of the reports it serves.')
param reportsContainerName string

@description('Tags applied to the account.')
param tags object = {}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_43:The name is an expression ('st' + uniqueString = 15 lowercase letters and digits), valid but not evaluable by checkov
  // checkov:skip=CKV_AZURE_35:Default action Allow: the function host reaches this account over its public endpoint (no private endpoint in this template); data access is by Entra ID roles (plus the account key on EP1 only)
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
    allowSharedKeyAccess: allowSharedKeyAccess
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

// The Flex deployment storage names it: it exists before the site does (the site module takes its URL from here).
resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

// The app's own containers are created here so that its roles can be scoped to them (an identity cannot create
// a container with a role on other containers only).
resource stateContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: stateContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource sharedCacheContainerResource 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: sharedCacheContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource reportsContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: reportsContainerName
  properties: {
    publicAccess: 'None'
  }
}

output accountName string = storage.name
// Service URIs from the account itself: right in every cloud (AzureWebJobsStorage__*ServiceUri).
output blobServiceUri string = storage.properties.primaryEndpoints.blob
output queueServiceUri string = storage.properties.primaryEndpoints.queue
output tableServiceUri string = storage.properties.primaryEndpoints.table
output deploymentContainerUrl string = '${storage.properties.primaryEndpoints.blob}${deploymentContainer.name}'
output stateContainerName string = stateContainer.name
output sharedCacheContainerName string = sharedCacheContainerResource.name
output reportsContainerName string = reportsContainer.name
