{{/* Standard labels for the objects this chart makes itself (the vendored charts label their own). */}}
{{- define "monitoring.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: clipper
{{- end -}}

{{/* The Loki chart's full name, by the same rule as its own helper (override, else release-loki). */}}
{{- define "monitoring.lokiFullname" -}}
{{- $loki := index .Values "loki" -}}
{{- if $loki.fullnameOverride -}}
{{- $loki.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains "loki" .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-loki" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "monitoring.lokiUrl" -}}
{{- $loki := index .Values "loki" -}}
{{- $ns := $loki.namespaceOverride | default .Release.Namespace -}}
{{- .Values.lokiDatasource.url | default (printf "http://%s-gateway.%s.svc" (include "monitoring.lokiFullname" .) $ns) -}}
{{- end -}}

{{/* kube-prometheus-stack's full name, by the same rule as its own helper (it truncates to 26). */}}
{{- define "monitoring.kpsFullname" -}}
{{- $kps := index .Values "kube-prometheus-stack" -}}
{{- $name := $kps.nameOverride | default "kube-prometheus-stack" -}}
{{- if $kps.fullnameOverride -}}
{{- $kps.fullnameOverride | trunc 26 | trimSuffix "-" -}}
{{- else if contains $name .Release.Name -}}
{{- .Release.Name | trunc 26 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 26 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Where Alloy pushes: logShipper.lokiUrl, else this release's Loki gateway. */}}
{{- define "monitoring.lokiPushUrl" -}}
{{- $loki := index .Values "loki" -}}
{{- $ns := $loki.namespaceOverride | default .Release.Namespace -}}
{{- .Values.logShipper.lokiUrl | default (printf "http://%s-gateway.%s.svc/loki/api/v1/push" (include "monitoring.lokiFullname" .) $ns) -}}
{{- end -}}

{{- define "monitoring.logShipperName" -}}
{{- printf "%s-log-shipper" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "monitoring.logShipperSelector" -}}
app.kubernetes.io/name: log-shipper
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
