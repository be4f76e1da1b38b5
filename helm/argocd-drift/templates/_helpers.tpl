{{/* Chart name, cut to 63 characters (a DNS label). */}}
{{- define "argocd-drift.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: the release name, followed by the chart name unless it already holds it. */}}
{{- define "argocd-drift.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "argocd-drift.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels every object carries. */}}
{{- define "argocd-drift.labels" -}}
helm.sh/chart: {{ include "argocd-drift.chart" . }}
{{ include "argocd-drift.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Labels that select this release's backend pods. */}}
{{- define "argocd-drift.selectorLabels" -}}
app.kubernetes.io/name: {{ include "argocd-drift.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: backend
{{- end }}

{{- define "argocd-drift.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "argocd-drift.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "argocd-drift.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/* Every namespace whose Applications are watched: Argo CD's own first, then the others, once each. */}}
{{- define "argocd-drift.appNamespaces" -}}
{{- $all := list .Values.argocd.namespace }}
{{- range .Values.argocd.applicationNamespaces }}
{{- if eq . "*" }}
{{- fail "argocd.applicationNamespaces: `*` is not supported by the chart's namespaced RBAC; list the namespaces" }}
{{- end }}
{{- $all = append $all . }}
{{- end }}
{{- $all | uniq | join "," }}
{{- end }}

{{/* The backend's Secret holding the proxy token (key: the proxy token key). */}}
{{- define "argocd-drift.proxyTokenSecret" -}}
{{- if .Values.proxySecret.create }}
{{- printf "%s-proxy-token" (include "argocd-drift.fullname" .) }}
{{- else }}
{{- required "proxySecret.existingSecret is required when proxySecret.create is false" .Values.proxySecret.existingSecret }}
{{- end }}
{{- end }}

{{- define "argocd-drift.proxyTokenKey" -}}
{{- if .Values.proxySecret.create }}token{{ else }}{{ .Values.proxySecret.existingSecretKey }}{{ end }}
{{- end }}

{{/* The URL Argo CD's extension config must point at. */}}
{{- define "argocd-drift.apiUrl" -}}
{{- printf "http://%s.%s.svc:%v" (include "argocd-drift.fullname" .) .Release.Namespace .Values.service.port }}
{{- end }}

{{- define "argocd-drift.metricsUrl" -}}
{{- printf "http://%s-metrics.%s.svc:%v" (include "argocd-drift.fullname" .) .Release.Namespace .Values.metricsService.port }}
{{- end }}

{{- define "argocd-drift.terminationGracePeriodSeconds" -}}
{{- $drain := add .Values.shutdown.delaySeconds .Values.shutdown.timeoutSeconds }}
{{- if kindIs "invalid" .Values.terminationGracePeriodSeconds }}
{{- add $drain 5 }}
{{- else if le (int .Values.terminationGracePeriodSeconds) (int $drain) }}
{{- fail (printf "terminationGracePeriodSeconds (%v) must exceed shutdown.delaySeconds + shutdown.timeoutSeconds (%v)" .Values.terminationGracePeriodSeconds $drain) }}
{{- else }}
{{- .Values.terminationGracePeriodSeconds }}
{{- end }}
{{- end }}

{{/*
The container's environment, shared by the Deployment and the `helm test` Pod (so
`argocd-drift check` sees exactly what the backend sees). Every variable is in the README's
configuration table.
*/}}
{{- define "argocd-drift.env" -}}
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: ARGOCD_CONTROL_PLANE_NAMESPACE
  value: {{ .Values.argocd.namespace | quote }}
- name: ARGOCD_NAMESPACES
  value: {{ include "argocd-drift.appNamespaces" . | quote }}
- name: PORT
  value: "8080"
- name: SERVICE_PORT
  value: "8081"
- name: REPORTS_PORT
  value: "8082"
- name: PROXY_TOKEN_FILE
  value: /var/run/argocd-drift/proxy/token
- name: DRIFT_READ_SECRETS
  value: {{ .Values.drift.readSecrets | quote }}
- name: DRIFT_REMOTE_CLUSTERS
  value: {{ .Values.drift.remoteClusters | quote }}
- name: LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
- name: LOG_FORMAT
  value: {{ .Values.logFormat | quote }}
- name: SHUTDOWN_DELAY_SECONDS
  value: {{ .Values.shutdown.delaySeconds | quote }}
- name: SHUTDOWN_TIMEOUT_SECONDS
  value: {{ .Values.shutdown.timeoutSeconds | quote }}
- name: REPORT_STALE_AFTER_SECONDS
  value: {{ .Values.reports.staleAfterSeconds | quote }}
- name: REPORT_EXPIRE_AFTER_SECONDS
  value: {{ .Values.reports.expireAfterSeconds | quote }}
{{- if .Values.reports.tokensSecret }}
- name: REPORTS_TOKENS_PATH
  value: /var/run/argocd-drift/reporters
{{- end }}
{{- if .Values.reports.readTokensSecret }}
- name: REPORTS_READ_TOKENS_FILE
  value: /var/run/argocd-drift/readers/tokens
{{- end }}
- name: EVENTS_ENABLED
  value: {{ .Values.events.enabled | quote }}
- name: HISTORY_MAX_EPISODES
  value: {{ .Values.history.maxEpisodes | quote }}
- name: HISTORY_MAX_AGE_DAYS
  value: {{ .Values.history.maxAgeDays | quote }}
{{- if .Values.argocd.api.url }}
- name: ARGOCD_SERVER_URL
  value: {{ .Values.argocd.api.url | quote }}
- name: ARGOCD_AUTH_TOKEN_FILE
  value: /var/run/argocd-drift/argocd-api/token
- name: ARGOCD_SERVER_INSECURE
  value: {{ .Values.argocd.api.insecure | quote }}
{{- end }}
- name: CHECK_API_URL
  value: {{ include "argocd-drift.apiUrl" . | quote }}
- name: CHECK_SERVICE_URL
  value: {{ include "argocd-drift.metricsUrl" . | quote }}
- name: CHECK_ARGOCD_SERVER_DEPLOYMENT
  value: {{ .Values.argocd.server.deploymentName | quote }}
- name: CHECK_PROXY_SECRET_REF
  value: {{ printf "$%s:authorization" .Values.proxySecret.argocdSecretName | quote }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Volumes holding the secrets the container reads, shared by the Deployment and the test Pod. */}}
{{- define "argocd-drift.secretVolumes" -}}
- name: proxy-token
  secret:
    secretName: {{ include "argocd-drift.proxyTokenSecret" . }}
    defaultMode: 0440
    items:
      - key: {{ include "argocd-drift.proxyTokenKey" . }}
        path: token
{{- with .Values.reports.tokensSecret }}
- name: reporters
  secret:
    secretName: {{ . }}
    defaultMode: 0440
{{- end }}
{{- if .Values.reports.readTokensSecret }}
- name: readers
  secret:
    secretName: {{ .Values.reports.readTokensSecret }}
    defaultMode: 0440
    items:
      - key: {{ .Values.reports.readTokensSecretKey }}
        path: tokens
{{- end }}
{{- if .Values.argocd.api.url }}
- name: argocd-api
  secret:
    secretName: {{ required "argocd.api.tokenSecret is required with argocd.api.url" .Values.argocd.api.tokenSecret }}
    defaultMode: 0440
    items:
      - key: {{ .Values.argocd.api.tokenSecretKey }}
        path: token
{{- end }}
- name: tmp
  emptyDir:
    medium: Memory
    sizeLimit: 16Mi
{{- end }}

{{- define "argocd-drift.secretMounts" -}}
- name: proxy-token
  mountPath: /var/run/argocd-drift/proxy
  readOnly: true
{{- if .Values.reports.tokensSecret }}
- name: reporters
  mountPath: /var/run/argocd-drift/reporters
  readOnly: true
{{- end }}
{{- if .Values.reports.readTokensSecret }}
- name: readers
  mountPath: /var/run/argocd-drift/readers
  readOnly: true
{{- end }}
{{- if .Values.argocd.api.url }}
- name: argocd-api
  mountPath: /var/run/argocd-drift/argocd-api
  readOnly: true
{{- end }}
- name: tmp
  mountPath: /tmp
{{- end }}
