{{/*
HorizontalPodAutoscaler (autoscaling/v2) for a Deployment named by the chart's fullname.
Takes (dict "ctx" $ "component" "api"). Reads .Values.autoscaling.
*/}}
{{- define "clipper-common.hpa" -}}
{{- $a := .ctx.Values.autoscaling -}}
{{- if $a.enabled }}
{{- include "clipper-common.validateAutoscaling" .ctx }}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "clipper-common.fullname" .ctx }}
  namespace: {{ .ctx.Release.Namespace }}
  labels:
    {{- include "clipper-common.labels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "clipper-common.fullname" .ctx }}
  minReplicas: {{ $a.minReplicas }}
  maxReplicas: {{ $a.maxReplicas }}
  metrics:
    {{- with $a.targetCPUUtilizationPercentage }}
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ . }}
    {{- end }}
    {{- with $a.targetMemoryUtilizationPercentage }}
    - type: Resource
      resource:
        name: memory
        target:
          type: Utilization
          averageUtilization: {{ . }}
    {{- end }}
  {{- with $a.behavior }}
  behavior:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
{{- end -}}

{{/*
Checks the schema cannot express. Takes the root context.
*/}}
{{- define "clipper-common.validateAutoscaling" -}}
{{- $a := .Values.autoscaling -}}
{{- if gt (int $a.minReplicas) (int $a.maxReplicas) -}}
{{- fail (printf "autoscaling.minReplicas (%v) is greater than autoscaling.maxReplicas (%v): lower minReplicas or raise maxReplicas" $a.minReplicas $a.maxReplicas) -}}
{{- end -}}
{{- if not (or $a.targetCPUUtilizationPercentage $a.targetMemoryUtilizationPercentage) -}}
{{- fail "autoscaling.enabled is true but neither autoscaling.targetCPUUtilizationPercentage nor autoscaling.targetMemoryUtilizationPercentage is set: set at least one target" -}}
{{- end -}}
{{- if and (or $a.targetCPUUtilizationPercentage $a.targetMemoryUtilizationPercentage) (not .Values.resources.requests) -}}
{{- fail "autoscaling targets are percentages of resources.requests, which is empty: set resources.requests.cpu and resources.requests.memory" -}}
{{- end -}}
{{- end -}}

{{/*
spec.replicas, omitted when an HPA owns the replica count (otherwise every upgrade would reset it).
Takes the root context; renders a whole line or nothing.
*/}}
{{- define "clipper-common.replicas" -}}
{{- if not .Values.autoscaling.enabled }}
replicas: {{ .Values.replicaCount }}
{{- end }}
{{- end -}}
