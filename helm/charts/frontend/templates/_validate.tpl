{{/*
Checks the schema cannot express, all of them on every render (see clipper-common's _validate.tpl).
Included by validate.yaml. Each message names the value and says how to fix it.
*/}}
{{- define "frontend.validate" -}}
{{- $errors := list -}}
{{- $renamed := dict "preStopSleepSeconds" "preStop.sleepSeconds" -}}
{{- $errors = concat $errors (include "clipper-common.renamedErrors" (dict "values" .Values "renamed" $renamed) | fromJsonArray) -}}
{{- $errors = concat $errors (include "clipper-common.monitoringErrors" . | fromJsonArray) -}}
{{- $errors = concat $errors (include "clipper-common.scalingErrors" . | fromJsonArray) -}}
{{- /* the exporter's image is checked even while metrics are off, so that turning them on later cannot fail */ -}}
{{- range $key, $image := dict "image" .Values.image "metrics.image" .Values.metrics.image "tests.image" .Values.tests.image -}}
{{- $errors = concat $errors (include "clipper-common.imageErrors" (dict "ctx" $ "image" $image "key" $key) | fromJsonArray) -}}
{{- end -}}
{{- $errors = concat $errors (include "clipper-common.extraEnvErrors" (dict "env" .Values.extraEnv "owned" list "fix" "") | fromJsonArray) -}}
{{- $port := int .Values.containerPort -}}
{{- if or (lt $port 1) (gt $port 65535) -}}
{{- $errors = append $errors (printf "containerPort (%v) is not a TCP port: set containerPort between 1 and 65535 (80 for the published image)" .Values.containerPort) -}}
{{- end -}}
{{- if and (not .Values.autoscaling.enabled) (lt (int .Values.replicaCount) 1) -}}
{{- $errors = append $errors (printf "replicaCount (%v) must be at least 1: raise replicaCount or enable autoscaling" .Values.replicaCount) -}}
{{- end -}}
{{- if and .Values.preStop.enabled (ge (int .Values.preStop.sleepSeconds) (int .Values.terminationGracePeriodSeconds)) -}}
{{- $errors = append $errors (printf "preStop.sleepSeconds (%v) must be shorter than terminationGracePeriodSeconds (%v), or nginx is killed before it can finish requests: lower preStop.sleepSeconds or raise the grace period" .Values.preStop.sleepSeconds .Values.terminationGracePeriodSeconds) -}}
{{- end -}}
{{- range .Values.extraVolumes -}}
{{- if has .name (list "nginx-cache" "nginx-run" "tmp") -}}
{{- $errors = append $errors (printf "extraVolumes entry %q clashes with a volume the chart mounts for nginx: rename it" .name) -}}
{{- end -}}
{{- end -}}
{{- if .Values.ingress.enabled -}}
{{- if not .Values.ingress.hosts -}}
{{- $errors = append $errors "ingress.enabled is true but ingress.hosts is empty: add a host, e.g. --set ingress.hosts[0].host=clpr.tv" -}}
{{- end -}}
{{- range $i, $host := .Values.ingress.hosts -}}
{{- if not $host.host -}}
{{- $errors = append $errors (printf "ingress.hosts[%d] has no host: set ingress.hosts[%d].host to a DNS name" $i $i) -}}
{{- end -}}
{{- end -}}
{{- range $i, $tls := .Values.ingress.tls -}}
{{- if not $tls.secretName -}}
{{- $errors = append $errors (printf "ingress.tls[%d] has no secretName: name the Secret that holds (or that cert-manager writes) the certificate" $i) -}}
{{- end -}}
{{- if not $tls.hosts -}}
{{- $errors = append $errors (printf "ingress.tls[%d] has no hosts: list the hosts the certificate covers" $i) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $errors = concat $errors (include "clipper-common.networkPolicyErrors" . | fromJsonArray) -}}
{{- include "clipper-common.failOnErrors" (dict "chart" .Chart.Name "errors" $errors) -}}
{{- end -}}
