{{/*
The frontend's alert rules. The job is the metrics Service's name (`<fullname>-metrics`), which
the ServiceMonitor gives each pod's nginx exporter.
*/}}
{{- define "frontend.alertGroups" -}}
{{- $pr := .Values.metrics.prometheusRule -}}
{{- $name := include "frontend.fullname" . -}}
{{- $sel := printf "job=\"%s-metrics\",namespace=%q" $name .Release.Namespace -}}
- name: clipper-frontend
  rules:
    - alert: ClipperFrontendDown
      expr: sum by (namespace, job) (nginx_up{ {{- $sel -}} }) == 0 or sum by (namespace, job) (up{ {{- $sel -}} }) == 0 or absent(up{ {{- $sel -}} })
      for: {{ $pr.downFor }}
      labels:
        severity: critical
      annotations:
        summary: No nginx of {{ $name }} serves the Clipper site.
        description: Every frontend pod in {{ .Release.Namespace }} is down or its nginx does not answer; visitors get errors from the ingress.
{{- end -}}
