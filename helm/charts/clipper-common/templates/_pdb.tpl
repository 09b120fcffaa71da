{{/*
PodDisruptionBudget. Takes (dict "ctx" $ "component" "api"). Reads .Values.podDisruptionBudget.
A budget the workload can never satisfy is refused by clipper-common.scalingErrors.
*/}}
{{- define "clipper-common.pdb" -}}
{{- $pdb := .ctx.Values.podDisruptionBudget -}}
{{- if $pdb.enabled }}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "clipper-common.fullname" .ctx }}
  namespace: {{ .ctx.Release.Namespace }}
  labels:
    {{- include "clipper-common.labels" . | nindent 4 }}
spec:
  minAvailable: {{ $pdb.minAvailable }}
  selector:
    matchLabels:
      {{- include "clipper-common.selectorLabels" . | nindent 6 }}
{{- end }}
{{- end -}}
