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
Container env: extraEnv as given (a name listed twice is refused by frontend.validate).
*/}}
{{- define "frontend.env" -}}
{{- with .Values.extraEnv }}
{{- toYaml . }}
{{- end }}
{{- end -}}

{{/*
The test pod's image (tests.image block), through the library so global.imageRegistry applies.
*/}}
{{- define "frontend.testImage" -}}
{{- include "clipper-common.image" (dict "ctx" . "image" .Values.tests.image "key" "tests.image") -}}
{{- end -}}
