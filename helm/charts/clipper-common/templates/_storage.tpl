{{/*
storageClassName for a PVC template. A non-empty global.storageClass wins over the chart's
persistence.storageClassName (the one precedence rule, see _validate.tpl); "-" asks for no class
at all (storageClassName: ""). Empty leaves the cluster default. Takes the root context; renders a whole line or nothing.
*/}}
{{- define "clipper-common.storageClassName" -}}
{{- $class := dig "storageClass" "" (.Values.global | default dict) | default .Values.persistence.storageClassName -}}
{{- if eq $class "-" }}
storageClassName: ""
{{- else if $class }}
storageClassName: {{ $class | quote }}
{{- end }}
{{- end -}}
