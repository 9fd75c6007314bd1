// Grants the jobs reader role on one existing IoT Hub to the function app's host identity.
// Deployed with scope = the hub's resource group (see main.bicep), so hubs may live in any resource group.
// The role is main.bicep's custom role with the one data action Microsoft.Devices/IotHubs/jobs/read (default),
// or the built-in IoT Hub Data Reader (Microsoft.Devices/IotHubs/*/read); either covers GET /jobs and
// GET /jobs/{id}, and nothing that creates, cancels or changes anything.
// Named guid(hub, principal, role): a redeploy with the same parameters finds its own assignment.

@description('Name of an existing IoT Hub in this module\'s resource group.')
param hubName string

@description('Object (principal) id of the identity that reads the hub\'s jobs.')
param principalId string

@description('Full resource id of the role definition to assign (custom jobs reader or IoT Hub Data Reader).')
param roleDefinitionId string

resource hub 'Microsoft.Devices/IotHubs@2023-06-30' existing = {
  name: hubName
}

resource readJobs 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(hub.id, principalId, roleDefinitionId)
  scope: hub
  properties: {
    roleDefinitionId: roleDefinitionId
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
