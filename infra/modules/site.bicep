// The hosting plan and the function app (Linux, Python 3.11), with the settings each plan needs of its own;
// the app's settings come from modules/app-settings.bicep (appSettings).
//
// Flex Consumption rejects several site properties (ARM error 51021, even with null values): ftpsState,
// linuxFxVersion, use32BitWorkerProcess, javaVersion, netFrameworkVersion, ... So a Flex site gets `flexSiteConfig`
// only (app settings and the TLS minimum) and its runtime from functionAppConfig.runtime; the other properties
// exist only in `classicSiteConfig` (Y1, EP1). tests/infra/test_flex_rules.py keeps it so.
//
// Keys: none on Flex (default) or Y1. EP1's content share on Azure Files takes nothing but a key connection
// string; the key is read here with listKeys() on the app's account, never passed in or out as a value.

@description('Azure region of the plan and the app.')
param location string

@description('Function app name (<name>.azurewebsites.net); the plan is plan-<name>.')
param appName string

@description('FlexConsumption (FC1), Consumption (Y1) or Premium (EP1).')
@allowed([
  'FlexConsumption'
  'Consumption'
  'Premium'
])
param hostingPlan string

@description('Flex only: most instances.')
param flexMaximumInstanceCount int

@description('Flex only: memory per instance in MB.')
param flexInstanceMemoryMB int

@description('Flex only: concurrent HTTP requests per instance.')
param flexHttpPerInstanceConcurrency int

@description('Y1 and EP1: most instances (functionAppScaleLimit).')
param scaleLimit int

@description('EP1 only: most instances of the plan.')
param premiumMaximumElasticWorkerCount int

@description('Y1 only: URL of the app package blob (empty until the first publish).')
param consumptionPackageUrl string

@description('Flex and EP1: subnet resource id for VNet integration (empty: none).')
param vnetSubnetId string

@description('The host uses userIdentityId instead of the system-assigned identity.')
param useUserAssignedIdentity bool

@description('Resource id of the host\'s user-assigned identity (empty without useUserAssignedIdentity).')
param userIdentityId string

@description('Resource id of the jobs identity (modules/identities.bicep).')
param jobsIdentityId string

@description('The app\'s own storage account, in this resource group (modules/storage.bicep).')
param storageAccountName string

@description('URL of the Flex deployment package container in that account.')
param deploymentContainerUrl string

@description('The app\'s settings (modules/app-settings.bicep); the plan\'s own are added here.')
param appSettings array

@description('Tags applied to the plan and the app.')
param tags object = {}

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
var contentShareName = take(toLower(replace(appName, '-', '')), 60)

// Only EP1 reads the key (see premiumContentSettings).
resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

// app-settings:begin (the plan's own settings; the app's are in modules/app-settings.bicep's block)
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
    value: useUserAssignedIdentity ? userIdentityId : 'SystemAssigned'
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

// What a Flex site accepts in siteConfig (Microsoft's Flex samples set no more); everything else is Y1/EP1 only.
var flexSiteConfig = {
  minTlsVersion: '1.2'
  appSettings: concat(appSettings, classicRuntimeSettings, consumptionPackageSettings, premiumContentSettings)
}
var classicSiteConfig = union(flexSiteConfig, {
  linuxFxVersion: 'Python|3.11'
  scmMinTlsVersion: '1.2'
  ftpsState: 'Disabled'
  http20Enabled: true
  functionAppScaleLimit: scaleLimit
})

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
    type: useUserAssignedIdentity ? 'UserAssigned' : 'SystemAssigned, UserAssigned'
    userAssignedIdentities: useUserAssignedIdentity ? {
      '${userIdentityId}': {}
      '${jobsIdentityId}': {}
    } : {
      '${jobsIdentityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    // VNet integration (Flex, Premium; Consumption has none): outbound calls leave through the subnet, so a
    // firewalled output account can admit them (private endpoint or subnet rule).
    virtualNetworkSubnetId: (empty(vnetSubnetId) || isConsumption) ? null : vnetSubnetId
    httpsOnly: true
    clientCertEnabled: false
    keyVaultReferenceIdentity: useUserAssignedIdentity ? userIdentityId : 'SystemAssigned'
    functionAppConfig: isFlex ? {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: deploymentContainerUrl
          authentication: useUserAssignedIdentity ? {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: userIdentityId
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

output name string = functionApp.name
output defaultHostName string = functionApp.properties.defaultHostName
// The system-assigned identity's principal (empty when the host uses the user-assigned one).
output systemPrincipalId string = useUserAssignedIdentity ? '' : functionApp.identity.principalId
