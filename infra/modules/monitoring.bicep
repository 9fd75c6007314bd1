// Telemetry: a Log Analytics workspace and the workspace-based Application Insights component the app sends to
// with Entra ID (local authentication disabled: the connection string alone ingests nothing). The operators'
// alert rules on it are modules/alerts.bicep's.

@description('Azure region of the workspace and the component.')
param location string

@description('Function app name: the resources are log-<app> and appi-<app>.')
param appName string

@description('Days of retention in the workspace.')
@minValue(30)
@maxValue(730)
param logRetentionDays int = 30

@description('Tags applied to both resources.')
param tags object = {}

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

output appInsightsId string = appInsights.id
output appInsightsName string = appInsights.name
// Not a secret with local authentication off: ingestion needs an Entra token (Monitoring Metrics Publisher).
output connectionString string = appInsights.properties.ConnectionString
