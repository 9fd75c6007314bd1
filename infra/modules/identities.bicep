// The app's identities and the role it is given on the hubs. The role assignments themselves are the modules
// app-roles, iothub-reader and blob-writer (main.bicep deploys them once the site's principal is known).
//
// - The host's identity: the site's system-assigned one, or (useUserAssignedIdentity) id-<app> created here. It
//   reaches the host's storage, telemetry and the hubs, and never writes where a job points.
// - The jobs identity (id-<app>-jobs, always): writes snapshots and reports into the jobs' containers and reads
//   their errors logs (MONITOR_STORAGE_CLIENT_ID). It holds no role on the app's own account, so hostile job
//   input can never reach the host's keys (azure-webjobs-secrets) or state, whatever the code's lists say.

@description('Azure region of the identities.')
param location string

@description('Function app name: the identities are id-<app> and id-<app>-jobs.')
param appName string

@description('Create id-<app> for the host (else the site\'s system-assigned identity serves).')
param useUserAssignedIdentity bool

@description('Create the custom jobs reader role (hubReaderRole = jobsReader).')
param createJobsReaderRole bool

@description('Resource group ids where the custom role may be assigned: those of the monitored hubs.')
param hubResourceGroupIds array

@description('Tags applied to the identities.')
param tags object = {}

resource userIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = if (useUserAssignedIdentity) {
  name: 'id-${appName}'
  location: location
  tags: tags
}

resource jobsIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-${appName}-jobs'
  location: location
  tags: tags
}

// A custom role with the one data action get_job, list_jobs and the poller need (IoT Hub RBAC action table):
// no registry, twins, configurations or file-upload notifications. Assignable where the hubs are; its name is a
// guid of the resource group and app, so a redeploy updates it in place.
resource jobsReaderRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = if (createJobsReaderRole) {
  name: guid(subscription().id, resourceGroup().id, appName, 'iothub-jobs-reader')
  properties: {
    roleName: 'IoT Hub Jobs Reader (${appName}, ${resourceGroup().name})'
    description: 'Reads IoT Hub import/export jobs (GET /jobs, GET /jobs/{id}) and nothing else.'
    type: 'CustomRole'
    permissions: [
      {
        actions: []
        notActions: []
        dataActions: [
          'Microsoft.Devices/IotHubs/jobs/read'
        ]
        notDataActions: []
      }
    ]
    // union() drops repeats: several hubs may share a resource group.
    assignableScopes: union(hubResourceGroupIds, [])
  }
}

// Empty strings where the resource is not created.
output userIdentityId string = useUserAssignedIdentity ? userIdentity.id : ''
output userPrincipalId string = useUserAssignedIdentity ? userIdentity.properties.principalId : ''
output userClientId string = useUserAssignedIdentity ? userIdentity.properties.clientId : ''
output jobsIdentityId string = jobsIdentity.id
output jobsPrincipalId string = jobsIdentity.properties.principalId
output jobsClientId string = jobsIdentity.properties.clientId
output jobsReaderRoleId string = createJobsReaderRole ? jobsReaderRole.id : ''
