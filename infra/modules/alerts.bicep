// The operators' alerts: scheduled query rules on the app's JSON log lines (Application Insights `traces`) and
// the action group that e-mails them. The queries are the .kql files in infra/alerts/, tested against the app's
// own log output (tests/infra/test_alert_queries.py); __NAME__ placeholders are filled here. Runbook:
// docs/operations.md. The parameters are main.bicep's of the same name, which documents and bounds them.

@description('Azure region of the rules (the action group is global).')
param location string

@description('Function app name: the rules are alert-<app>-<key>, the action group ag-<app>.')
param appName string

@description('Resource id of the Application Insights component the rules query (modules/monitoring.bicep).')
param appInsightsId string

@description('Minutes between two poller ticks: sizes the "no tick" and "hub failing" look-backs.')
param pollIntervalMinutes int

@description('Create the rules at all.')
param deployAlerts bool

@description('E-mail of the action group (empty: rules without an action group).')
param alertEmail string

@description('Alert when the poller writes a failure report.')
param alertOnReportWritten bool

@description('Alert when the poller marks a job stalled.')
param alertOnJobStalled bool

@description('Alert when a hub failed alertHubFailingTicks ticks in a row.')
param alertOnHubFailing bool

@description('Ticks in a row a hub must fail before the hub-failing alert fires.')
param alertHubFailingTicks int

@description('Alert when no tick was logged for two poll periods plus the ingestion margin.')
param alertOnMissingTick bool

@description('Minutes added to look-backs for Application Insights ingestion delay.')
param alertIngestionMarginMinutes int

@description('Alert on get_job 5xx/429 answers.')
param alertOnGetJobErrors bool

@description('get_job 5xx/429 answers in the window that fire the alert.')
param alertGetJobErrorThreshold int

@description('Window of the get_job error alert, in minutes (one of main.bicep\'s allowed values).')
param alertGetJobErrorWindowMinutes int

@description('Tags applied to the rules and the action group.')
param tags object = {}

// Conditions and arithmetic are parenthesized: pycep (checkov's parser) binds `a <= b ? x : y` as
// `a <= (b ? x : y)` and `2 * a + b` as `2 * (a + b)`; the tests evaluate what pycep reads.
// Look-backs in minutes. Tick-based rules look back far enough to see every tick they reason about.
var eventLookbackMinutes = 5
var missingTickLookbackMinutes = (2 * pollIntervalMinutes) + alertIngestionMarginMinutes
var hubFailingLookbackMinutes = ((alertHubFailingTicks + 1) * pollIntervalMinutes) + alertIngestionMarginMinutes
// windowSize takes fixed durations only; each query narrows it with its own ago().
var missingTickWindow = (missingTickLookbackMinutes <= 60) ? 'PT1H' : 'PT6H'
var hubFailingWindow = (hubFailingLookbackMinutes <= 60) ? 'PT1H' : ((hubFailingLookbackMinutes <= 360) ? 'PT6H' : 'P1D')

// One alert per value of a dimension column (hub, jobId, ...).
var includeAll = {
  operator: 'Include'
  values: [
    '*'
  ]
}

var alertRules = [
  {
    key: 'report-written'
    enabled: alertOnReportWritten
    displayName: '${appName}: report written'
    description: 'A job failed or was cancelled, or an import completed with rejected lines, and the poller wrote its report. Runbook: docs/operations.md, "Alert: report written".'
    severity: 2
    windowSize: 'PT5M'
    query: replace(loadTextContent('../alerts/report-written.kql'), '__LOOKBACK__', '${eventLookbackMinutes}m')
    dimensions: [
      union(includeAll, {
        name: 'hub'
      })
      union(includeAll, {
        name: 'jobId'
      })
      union(includeAll, {
        name: 'hint'
      })
    ]
  }
  {
    key: 'job-stalled'
    enabled: alertOnJobStalled
    displayName: '${appName}: job stalled'
    description: 'An active job has not moved for MONITOR_STALL_AFTER_MINUTES. Runbook: docs/operations.md, "Alert: job stalled".'
    severity: 2
    windowSize: 'PT5M'
    query: replace(loadTextContent('../alerts/job-stalled.kql'), '__LOOKBACK__', '${eventLookbackMinutes}m')
    dimensions: [
      union(includeAll, {
        name: 'hub'
      })
      union(includeAll, {
        name: 'jobId'
      })
    ]
  }
  {
    key: 'hub-failing'
    enabled: alertOnHubFailing
    displayName: '${appName}: hub failing ${alertHubFailingTicks} ticks in a row'
    description: 'The poller could not list a hub\'s jobs in each of its last ${alertHubFailingTicks} ticks. Runbook: docs/operations.md, "Alert: hub failing".'
    severity: 1
    windowSize: hubFailingWindow
    query: replace(replace(loadTextContent('../alerts/hub-failing.kql'), '__LOOKBACK__', '${hubFailingLookbackMinutes}m'), '__TICKS__', string(alertHubFailingTicks))
    dimensions: [
      union(includeAll, {
        name: 'hub'
      })
    ]
  }
  {
    key: 'missing-tick'
    enabled: alertOnMissingTick
    displayName: '${appName}: no poller tick'
    description: 'No poll_job_timer tick was logged for two poll periods (${2 * pollIntervalMinutes} min) plus ${alertIngestionMarginMinutes} min of ingestion margin: the timer stopped or the app cannot start. Runbook: docs/operations.md, "Alert: no tick".'
    severity: 1
    windowSize: missingTickWindow
    query: replace(loadTextContent('../alerts/missing-tick.kql'), '__LOOKBACK__', '${missingTickLookbackMinutes}m')
    dimensions: []
  }
  {
    key: 'get-job-errors'
    enabled: alertOnGetJobErrors
    displayName: '${appName}: get_job 5xx/429'
    description: 'get_job answered 5xx or 429 at least ${alertGetJobErrorThreshold} times in ${alertGetJobErrorWindowMinutes} minutes. Runbook: docs/operations.md, "Alert: get_job errors".'
    severity: 2
    windowSize: 'PT${alertGetJobErrorWindowMinutes}M'
    query: replace(replace(loadTextContent('../alerts/get-job-errors.kql'), '__LOOKBACK__', '${alertGetJobErrorWindowMinutes}m'), '__THRESHOLD__', string(alertGetJobErrorThreshold))
    dimensions: []
  }
]

resource alertActionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = if (deployAlerts && !empty(alertEmail)) {
  name: 'ag-${appName}'
  location: 'Global'
  tags: tags
  properties: {
    groupShortName: 'jobmonitor'
    enabled: true
    emailReceivers: [
      {
        name: 'operators'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

// Each query returns one row per thing to act on (already filtered); the rule fires when it returns any row,
// one alert per combination of the listed dimensions.
resource alerts 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = [for rule in alertRules: if (deployAlerts && rule.enabled) {
  name: 'alert-${appName}-${rule.key}'
  location: location
  tags: tags
  properties: {
    displayName: rule.displayName
    description: rule.description
    severity: rule.severity
    enabled: true
    evaluationFrequency: 'PT5M'
    windowSize: rule.windowSize
    scopes: [
      appInsightsId
    ]
    criteria: {
      allOf: [
        {
          query: rule.query
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          dimensions: rule.dimensions
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: empty(alertEmail) ? [] : [
        alertActionGroup.id
      ]
    }
  }
}]
