{{/*
ServiceAccount without an automounted token. Takes (dict "ctx" $ "component" "api").
*/}}
{{- define "clipper-common.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "clipper-common.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "clipper-common.serviceAccount" -}}
{{- if .ctx.Values.serviceAccount.create }}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "clipper-common.serviceAccountName" .ctx }}
  namespace: {{ .ctx.Release.Namespace }}
  labels:
    {{- include "clipper-common.labels" . | nindent 4 }}
  {{- with .ctx.Values.serviceAccount.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
automountServiceAccountToken: false
{{- end }}
{{- end -}}
