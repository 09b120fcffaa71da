{{/*
Labels. Take (dict "ctx" $ "component" "api").
Selectors use name + instance + component only: they are immutable on Deployments and StatefulSets.
*/}}

{{- define "clipper-common.selectorLabels" -}}
app.kubernetes.io/name: {{ include "clipper-common.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
{{- with .component }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- end -}}

{{- define "clipper-common.labels" -}}
helm.sh/chart: {{ include "clipper-common.chart" .ctx }}
{{ include "clipper-common.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/part-of: clipper
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
{{- with .ctx.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}
