// Grants "Storage Blob Data Contributor" to the app's jobs identity where the poller writes snapshots and
// failure reports and reads errors logs with that identity (MONITOR_IDENTITY_CONTAINERS): on the listed
// containers of one existing storage account, or on the whole account only when the operator asks for it
// (wholeAccount; jobs may then name any output container in it). With MONITOR_CONTAINER set, creates that sibling container here and grants on it: the poller never has
// to create a container (a container-scoped role does not allow that).
// Deployed with scope = the account's resource group (see main.bicep). Role names include the principal id.

@description('Name of an existing storage account that holds import/export jobs\' output containers.')
param accountName string

@description('Existing containers to grant.')
param containers array = []

@description('Grant on the whole account instead (every container in it, present and future).')
param wholeAccount bool = false

@description('MONITOR_CONTAINER: sibling container to create and grant; empty = none.')
param monitorContainer string = ''

@description('Object (principal) id of the identity that writes the blobs.')
param principalId string

// Storage Blob Data Contributor (built-in role).
var blobDataContributorRoleId = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: accountName
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' existing = {
  parent: account
  name: 'default'
}

resource accountWide 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (wholeAccount) {
  name: guid(account.id, principalId, blobDataContributorRoleId)
  scope: account
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', blobDataContributorRoleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource outputContainers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = [for c in containers: {
  parent: blobService
  name: c
}]

// The monitor container gets its own assignment below, so it is skipped here if it is also listed; nothing here
// when the account-wide role covers every container. (Parenthesized: pycep binds `!a && b` as `!(a && b)`.)
resource perContainer 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (c, i) in containers: if ((!wholeAccount) && (c != monitorContainer)) {
  name: guid(outputContainers[i].id, principalId, blobDataContributorRoleId)
  scope: outputContainers[i]
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', blobDataContributorRoleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}]

resource monitor 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = if (!empty(monitorContainer)) {
  parent: blobService
  name: empty(monitorContainer) ? 'unused' : monitorContainer
  properties: {
    publicAccess: 'None'
  }
}

resource monitorWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(monitorContainer)) {
  name: guid(monitor.id, principalId, blobDataContributorRoleId)
  scope: monitor
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', blobDataContributorRoleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
