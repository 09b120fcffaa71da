{{/*
NetworkPolicy rule fragments shared by the charts. Each takes the chart's .Values.networkPolicy.
*/}}

{{/* The namespaces the fragments need; returns a JSON list of messages. Takes the root context. */}}
{{- define "clipper-common.networkPolicyErrors" -}}
{{- $errors := list -}}
{{- $np := .Values.networkPolicy | default dict -}}
{{- if $np.enabled -}}
{{- if and (hasKey $np "ingressController") (not $np.ingressController.namespace) -}}
{{- $errors = append $errors "networkPolicy.ingressController.namespace is required: name the namespace of your ingress or gateway controller" -}}
{{- end -}}
{{- /* a monitoring block without its own switch is used while the chart's metrics are on */ -}}
{{- $scraped := dig "enabled" (dig "enabled" false (.Values.metrics | default dict)) ($np.monitoring | default dict) -}}
{{- if and (hasKey $np "monitoring") $scraped (not $np.monitoring.namespace) -}}
{{- $errors = append $errors "networkPolicy.monitoring.namespace is required: name the namespace Prometheus runs in" -}}
{{- end -}}
{{- end -}}
{{- toJson $errors -}}
{{- end -}}

{{/* Egress to cluster DNS on 53/UDP and 53/TCP. */}}
{{- define "clipper-common.netpol.dnsEgress" -}}
- ports:
    - port: 53
      protocol: UDP
    - port: 53
      protocol: TCP
  {{- with .dns.to }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}

{{/* Ingress from the namespace of the ingress controller, selected by its immutable name label. */}}
{{- define "clipper-common.netpol.fromIngressController" -}}
- namespaceSelector:
    matchLabels:
      kubernetes.io/metadata.name: {{ .ingressController.namespace }}
  {{- with .ingressController.podSelector }}
  podSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}

{{/* Ingress from the monitoring namespace (Prometheus scrapes). */}}
{{- define "clipper-common.netpol.fromMonitoring" -}}
- namespaceSelector:
    matchLabels:
      kubernetes.io/metadata.name: {{ .monitoring.namespace }}
  {{- with .monitoring.podSelector }}
  podSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}
