{{/*
PodDisruptionBudget. Takes (dict "ctx" $ "component" "api"). Reads .Values.podDisruptionBudget.
A budget that the workload can never satisfy blocks every node drain, so it is refused.
*/}}
{{- define "clipper-common.pdb" -}}
{{- $pdb := .ctx.Values.podDisruptionBudget -}}
{{- if $pdb.enabled }}
{{- $as := .ctx.Values.autoscaling | default dict -}}
{{- $replicas := int (ternary (dig "minReplicas" 1 $as) .ctx.Values.replicaCount (dig "enabled" false $as)) -}}
{{- if and (not (kindIs "string" $pdb.minAvailable)) (ge (int $pdb.minAvailable) $replicas) -}}
{{- fail (printf "podDisruptionBudget.minAvailable (%v) must be lower than the replica count (%v) or node drains block forever: raise the replicas or lower minAvailable" $pdb.minAvailable $replicas) -}}
{{- end }}
{{- if and (kindIs "string" $pdb.minAvailable) (hasSuffix "%" $pdb.minAvailable) (ge (atoi (trimSuffix "%" $pdb.minAvailable)) 100) -}}
{{- fail (printf "podDisruptionBudget.minAvailable (%s) keeps every pod up, so node drains block forever: use a lower percentage (e.g. 50%%) or a number below the replica count" $pdb.minAvailable) -}}
{{- end }}
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
