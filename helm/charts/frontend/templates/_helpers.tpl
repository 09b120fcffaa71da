{{/* Thin wrappers around the clipper-common library. */}}

{{- define "frontend.name" -}}
{{- include "clipper-common.name" . -}}
{{- end -}}

{{- define "frontend.fullname" -}}
{{- include "clipper-common.fullname" . -}}
{{- end -}}

{{- define "frontend.labels" -}}
{{- include "clipper-common.labels" (dict "ctx" . "component" "web") -}}
{{- end -}}

{{- define "frontend.selectorLabels" -}}
{{- include "clipper-common.selectorLabels" (dict "ctx" . "component" "web") -}}
{{- end -}}

{{- define "frontend.serviceAccountName" -}}
{{- include "clipper-common.serviceAccountName" . -}}
{{- end -}}

{{/*
Checks the schema cannot express. Renders nothing.
*/}}
{{- define "frontend.validate" -}}
{{- with (include "clipper-common.validateMonitoring" . | trim) -}}
{{- fail . -}}
{{- end -}}
{{- $port := int .Values.containerPort -}}
{{- if or (lt $port 1) (gt $port 65535) -}}
{{- fail (printf "containerPort (%v) is not a TCP port: set containerPort between 1 and 65535 (80 for the published image)" .Values.containerPort) -}}
{{- end -}}
{{- if and (not .Values.autoscaling.enabled) (lt (int .Values.replicaCount) 1) -}}
{{- fail (printf "replicaCount (%v) must be at least 1: raise replicaCount or enable autoscaling" .Values.replicaCount) -}}
{{- end -}}
{{- if ge (int .Values.preStopSleepSeconds) (int .Values.terminationGracePeriodSeconds) -}}
{{- fail (printf "preStopSleepSeconds (%v) must be shorter than terminationGracePeriodSeconds (%v), or nginx is killed before it can finish requests: lower preStopSleepSeconds or raise the grace period" .Values.preStopSleepSeconds .Values.terminationGracePeriodSeconds) -}}
{{- end -}}
{{- /* the exporter's image is checked even while metrics are off, so that turning them on later cannot fail */ -}}
{{- $_ := include "clipper-common.image" (dict "ctx" . "image" .Values.metrics.image "key" "metrics.image") -}}
{{- range .Values.extraVolumes -}}
{{- if has .name (list "nginx-cache" "nginx-run" "tmp") -}}
{{- fail (printf "extraVolumes entry %q clashes with a volume the chart mounts for nginx: rename it" .name) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
Container env: user extraEnv merged by name (last entry wins), no duplicates.
*/}}
{{- define "frontend.env" -}}
{{- $byName := dict -}}
{{- $order := list -}}
{{- range .Values.extraEnv -}}
{{- if not (hasKey $byName .name) }}{{ $order = append $order .name }}{{ end -}}
{{- $_ := set $byName .name . -}}
{{- end -}}
{{- range $order }}
- {{ toYaml (get $byName .) | nindent 2 | trim }}
{{- end }}
{{- end -}}

{{/*
The test pod's image (tests.image block), through the library so global.imageRegistry applies.
*/}}
{{- define "frontend.testImage" -}}
{{- include "clipper-common.image" (dict "ctx" . "image" .Values.tests.image "key" "tests.image") -}}
{{- end -}}
