// Entra ID sign-in in front of the function app: App Service Authentication (authsettingsV2; Flex Consumption
// supports it). Deployed by main.bicep when signInEnabled, into the app's resource group.
//
// RedirectToLoginPage answers every unauthenticated request with a 302, scripts included (requests follows it to
// a 200 HTML page): so the scripts' paths are left out of sign-in (the host's key check answers them 401), or
// every path answers 401 (signInScriptPaths). Only trailing wildcards are supported, so the pages for people live
// under /api/status/ (the status page, a job's page, a report page), never under /api/jobs/. The Functions host still
// checks function keys after sign-in.
// Which path gets which answer: docs/deploy.md, "Sign-in" (tests/infra/test_azure_production.py, test_sign_in.py).

@description('Name of the function app, in this resource group.')
param appName string

@description('Client id of the Entra app registration sign-in uses.')
param signInClientId string

@description('The Entra tenant users sign in to.')
param signInTenantId string

@description('functionKey: /api/jobs and /api/jobs/* left to the function key, people redirected; return401: 401 everywhere.')
@allowed([
  'functionKey'
  'return401'
])
param signInScriptPaths string = 'functionKey'

@description('Object ids allowed past sign-in (empty: any principal of the tenant with a token for the app).')
param signInAllowedPrincipals array = []

@description('Client ids of other applications whose tokens are accepted, besides signInClientId.')
param signInAllowedApplications array = []

var signInExcludedPaths = (signInScriptPaths == 'functionKey') ? [
  '/api/jobs'
  '/api/jobs/*'
] : []
var signInAction = (signInScriptPaths == 'functionKey') ? 'RedirectToLoginPage' : 'Return401'
// Who may pass: without a policy any principal of the tenant with a token for the app passes.
var signInAllowedPrincipalsPolicy = empty(signInAllowedPrincipals) ? {} : {
  allowedPrincipals: {
    identities: signInAllowedPrincipals
  }
}
var signInPolicy = union({
  allowedApplications: concat([
    signInClientId
  ], signInAllowedApplications)
}, signInAllowedPrincipalsPolicy)

resource site 'Microsoft.Web/sites@2024-04-01' existing = {
  name: appName
}

resource signIn 'Microsoft.Web/sites/config@2024-04-01' = {
  // checkov:skip=CKV_AZURE_13:This resource is App Service Authentication itself (checkov reads every sites/config as a site)
  // checkov:skip=CKV_AZURE_63:HTTP logging is the site's logs config, not authsettingsV2; the app logs to Application Insights
  // checkov:skip=CKV_AZURE_65:Detailed error messages are the site's logs config, not authsettingsV2
  // checkov:skip=CKV_AZURE_66:Failed request tracing is the site's logs config, not authsettingsV2
  // checkov:skip=CKV_AZURE_222:Public network access is the site's setting (skipped there with its reason); sign-in narrows who gets through it
  // checkov:skip=CKV_AZURE_80:A Python app: no .NET Framework version
  // checkov:skip=CKV_AZURE_88:Azure Files is a site storage setting (Flex has none); not an authsettingsV2 property
  parent: site
  name: 'authsettingsV2'
  properties: {
    platform: {
      enabled: true
    }
    globalValidation: {
      requireAuthentication: true
      unauthenticatedClientAction: signInAction
      redirectToProvider: 'azureactivedirectory'
      excludedPaths: signInExcludedPaths
    }
    httpSettings: {
      requireHttps: true
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: signInClientId
          openIdIssuer: '${environment().authentication.loginEndpoint}${signInTenantId}/v2.0'
        }
        validation: {
          allowedAudiences: [
            'api://${signInClientId}'
            signInClientId
          ]
          defaultAuthorizationPolicy: signInPolicy
        }
      }
    }
    login: {
      tokenStore: {
        enabled: false
      }
    }
  }
}
