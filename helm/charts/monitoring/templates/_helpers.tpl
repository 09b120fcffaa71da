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

{{/* Every refusal at once, so that one run names every mistake. */}}
{{- define "monitoring.validate" -}}
{{- $errors := list -}}
{{- $kps := index .Values "kube-prometheus-stack" -}}
{{- $grafana := $kps.grafana | default dict -}}
{{- $ingress := $grafana.ingress | default dict -}}
{{- if and $kps.enabled ($grafana.enabled | default true) $ingress.enabled .Values.grafanaIngress.requireTls (not $ingress.tls) -}}
{{- $errors = append $errors "kube-prometheus-stack.grafana.ingress.tls is empty while the Grafana Ingress is enabled: Grafana's login would travel in clear. Give a TLS entry (secretName and hosts), or set grafanaIngress.requireTls=false if TLS ends in front of the ingress." -}}
{{- end -}}
{{- if and $kps.enabled $grafana.adminPassword -}}
{{- $errors = append $errors "kube-prometheus-stack.grafana.adminPassword is set in values, where it is stored in the release in clear: leave it empty (a random password is generated into the Secret <release>-grafana) or name your own Secret in kube-prometheus-stack.grafana.admin.existingSecret." -}}
{{- end -}}
{{- $loki := index .Values "loki" -}}
{{- if and .Values.lokiDatasource.enabled (not $loki.enabled) (not .Values.lokiDatasource.url) -}}
{{- $errors = append $errors "lokiDatasource.enabled is true while loki.enabled is false: give lokiDatasource.url (your own Loki) or set lokiDatasource.enabled=false." -}}
{{- end -}}
{{- if and .Values.logShipper.enabled (not $loki.enabled) (not .Values.logShipper.lokiUrl) -}}
{{- $errors = append $errors "logShipper.enabled is true while loki.enabled is false: give logShipper.lokiUrl (your own Loki's push URL) or set logShipper.enabled=false." -}}
{{- end -}}
{{- $shipperImage := .Values.logShipper.image -}}
{{- if and (not $shipperImage.digest) (has $shipperImage.tag (list "" "latest")) -}}
{{- $errors = append $errors (printf "logShipper.image.tag %q does not pin a release: set logShipper.image.tag to a version (e.g. v1.21.0) or logShipper.image.digest to a sha256 digest" $shipperImage.tag) -}}
{{- end -}}
{{- if $errors -}}
{{- fail (printf "\n%s" (join "\n" $errors)) -}}
{{- end -}}
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
