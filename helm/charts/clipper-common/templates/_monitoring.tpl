{{/*
Prometheus-operator objects and Grafana dashboards that each chart ships for its own workload.
Every chart reads the same keys: .Values.metrics.serviceMonitor, .Values.metrics.prometheusRule
and .Values.metrics.dashboard.
*/}}

{{/*
ServiceMonitor for one Service port. Takes (dict "ctx" $ "component" "api" "service" <Service name>
"port" <port name> "path" <HTTP path> "endpoint" <extra endpoint fields as YAML, optional>).
Prometheus names the job after the Service, which is what the chart's rules and dashboards match.
*/}}
{{- define "clipper-common.serviceMonitor" -}}
{{- $sm := .ctx.Values.metrics.serviceMonitor -}}
{{- if $sm.enabled }}
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ .service }}
  namespace: {{ .ctx.Release.Namespace }}
  labels:
    {{- include "clipper-common.labels" . | nindent 4 }}
    {{- with $sm.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  namespaceSelector:
    matchNames:
      - {{ .ctx.Release.Namespace }}
  selector:
    matchLabels:
      {{- include "clipper-common.selectorLabels" . | nindent 6 }}
  endpoints:
    - port: {{ .port }}
      path: {{ .path }}
      scheme: http
      interval: {{ $sm.interval }}
      scrapeTimeout: {{ $sm.scrapeTimeout }}
      {{- with .endpoint }}
      {{- . | nindent 6 }}
      {{- end }}
{{- end }}
{{- end -}}

{{/*
PrometheusRule with the chart's alert groups. Takes (dict "ctx" $ "component" "api" "groups" <YAML
list of rule groups>).
*/}}
{{- define "clipper-common.prometheusRule" -}}
{{- $pr := .ctx.Values.metrics.prometheusRule -}}
{{- if $pr.enabled }}
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: {{ include "clipper-common.fullname" .ctx }}
  namespace: {{ .ctx.Release.Namespace }}
  labels:
    {{- include "clipper-common.labels" . | nindent 4 }}
    {{- with $pr.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  groups:
    {{- .groups | nindent 4 }}
{{- end }}
{{- end -}}

{{/*
Grafana dashboard as a ConfigMap that Grafana's dashboard sidecar loads. Takes (dict "ctx" $
"component" "api" "file" <path of the JSON in the chart> "job" <Prometheus job>). The JSON's
CLIPPER_JOB and CLIPPER_NAMESPACE placeholders become the job and the release namespace; it is
not passed through tpl, so Grafana's own {{ }} legends stay as they are.
*/}}
{{- define "clipper-common.dashboard" -}}
{{- $db := .ctx.Values.metrics.dashboard -}}
{{- if $db.enabled }}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "clipper-common.fullname" .ctx }}-dashboard
  namespace: {{ $db.namespace | default .ctx.Release.Namespace }}
  labels:
    {{- include "clipper-common.labels" . | nindent 4 }}
    {{- toYaml $db.labels | nindent 4 }}
  {{- with $db.folder }}
  annotations:
    grafana_folder: {{ . | quote }}
  {{- end }}
data:
  {{ base .file }}: |-
    {{- .ctx.Files.Get .file | replace "CLIPPER_JOB" .job | replace "CLIPPER_NAMESPACE" .ctx.Release.Namespace | nindent 4 }}
{{- end }}
{{- end -}}

{{/* Refusals shared by the charts' monitoring keys; returns a JSON list of messages (see _validate.tpl). */}}
{{- define "clipper-common.monitoringErrors" -}}
{{- $errors := list -}}
{{- $m := .Values.metrics -}}
{{- if and (hasKey $m "enabled") (not $m.enabled) -}}
{{- if $m.serviceMonitor.enabled -}}
{{- $errors = append $errors "metrics.serviceMonitor.enabled needs metrics.enabled=true: the ServiceMonitor scrapes the exporter that metrics.enabled runs." -}}
{{- end -}}
{{- if $m.prometheusRule.enabled -}}
{{- $errors = append $errors "metrics.prometheusRule.enabled needs metrics.enabled=true: the rules read the exporter's metrics." -}}
{{- end -}}
{{- if $m.dashboard.enabled -}}
{{- $errors = append $errors "metrics.dashboard.enabled needs metrics.enabled=true: the dashboard reads the exporter's metrics." -}}
{{- end -}}
{{- end -}}
{{- toJson $errors -}}
{{- end -}}
