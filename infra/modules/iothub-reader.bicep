// Grants "IoT Hub Data Reader" on one existing IoT Hub to the function app's identity.
// Deployed with scope = the hub's resource group (see main.bicep), so hubs may live in any resource group.
// The role's data actions (Microsoft.Devices/IotHubs/*/read) cover GET /jobs and GET /jobs/{id};
// nothing that creates, cancels or changes anything is granted.

@description('Name of an existing IoT Hub in this module\'s resource group.')
param hubName string

@description('Object (principal) id of the identity that reads the hub\'s jobs.')
param principalId string

// IoT Hub Data Reader (built-in role).
var iotHubDataReaderRoleId = 'b447c946-2db7-41ec-983d-d8bf3b1c77e3'

resource hub 'Microsoft.Devices/IotHubs@2023-06-30' existing = {
  name: hubName
}

resource readJobs 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(hub.id, principalId, iotHubDataReaderRoleId)
  scope: hub
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', iotHubDataReaderRoleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
