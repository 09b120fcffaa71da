{{/*
storageClassName for a PVC template. The chart's persistence.storageClassName wins over
global.storageClass; "-" asks for no class at all (storageClassName: ""). Empty leaves the
cluster default. Takes the root context; renders a whole line or nothing.
*/}}
{{- define "clipper-common.storageClassName" -}}
{{- $class := default (dig "storageClass" "" (.Values.global | default dict)) .Values.persistence.storageClassName -}}
{{- if eq $class "-" }}
storageClassName: ""
{{- else if $class }}
storageClassName: {{ $class | quote }}
{{- end }}
{{- end -}}
