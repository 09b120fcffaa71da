{{/*
NetworkPolicy rule fragments shared by the charts. Each takes the chart's .Values.networkPolicy.
*/}}

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
      kubernetes.io/metadata.name: {{ required "networkPolicy.ingressController.namespace is required: name the namespace of your ingress or gateway controller" .ingressController.namespace }}
  {{- with .ingressController.podSelector }}
  podSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}

{{/* Ingress from the monitoring namespace (Prometheus scrapes). */}}
{{- define "clipper-common.netpol.fromMonitoring" -}}
- namespaceSelector:
    matchLabels:
      kubernetes.io/metadata.name: {{ required "networkPolicy.monitoring.namespace is required: name the namespace Prometheus runs in" .monitoring.namespace }}
  {{- with .monitoring.podSelector }}
  podSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}
