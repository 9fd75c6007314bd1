// Grants "Storage Blob Data Contributor" to the function app's identity where the poller writes snapshots and
// failure reports: on the listed containers of one existing storage account or, when no container is listed,
// on the whole account (jobs may name any output container in it).
// Deployed with scope = the account's resource group (see main.bicep).

@description('Name of an existing storage account that holds import/export jobs\' output containers.')
param accountName string

@description('Containers to grant; empty = the whole account. List every job output container the poller writes beside, and MONITOR_CONTAINER if set.')
param containers array = []

@description('Object (principal) id of the identity that writes the blobs.')
param principalId string

// Storage Blob Data Contributor (built-in role).
var blobDataContributorRoleId = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: accountName
}

resource accountWide 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (empty(containers)) {
  name: guid(account.id, principalId, blobDataContributorRoleId)
  scope: account
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', blobDataContributorRoleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource outputContainers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = [for c in containers: {
  name: '${accountName}/default/${c}'
}]

resource perContainer 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (c, i) in containers: {
  name: guid(outputContainers[i].id, principalId, blobDataContributorRoleId)
  scope: outputContainers[i]
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', blobDataContributorRoleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}]
