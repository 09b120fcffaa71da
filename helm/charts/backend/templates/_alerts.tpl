{{/*
The backend's alert rules (PrometheusRule groups). The job is the backend Service's name, which
the ServiceMonitor gives every target; kube-state-metrics series are matched by namespace and name.
*/}}
{{- define "backend.alertGroups" -}}
{{- $pr := .Values.metrics.prometheusRule -}}
{{- $sel := printf "job=%q,namespace=%q" (include "backend.fullname" .) .Release.Namespace -}}
{{- $ns := printf "namespace=%q" .Release.Namespace -}}
{{- $name := include "backend.fullname" . -}}
- name: clipper-backend
  rules:
    - alert: ClipperBackendDown
      expr: sum by (namespace, job) (up{ {{- $sel -}} }) == 0 or absent(up{ {{- $sel -}} })
      for: {{ $pr.downFor }}
      labels:
        severity: critical
      annotations:
        summary: No Clipper API pod of {{ $name }} answers Prometheus.
        description: Every scrape of /debug/metrics in {{ .Release.Namespace }} fails or no pod runs; the site's API is down.
    - alert: ClipperBackendReadinessFlapping
      expr: sum by (namespace, pod) (changes(kube_pod_status_ready{ {{- $ns -}},condition="true",pod=~"{{ $name }}-[a-z0-9]+-[a-z0-9]+"}[15m])) > {{ $pr.readinessFlaps }}
      labels:
        severity: warning
      annotations:
        summary: "{{`Pod {{ $labels.pod }} changed readiness {{ $value }} times in 15 minutes.`}}"
        description: The readiness probe passes and fails in turn (dependencies timing out, CPU throttling); traffic keeps moving off and on the pod.
    - alert: ClipperBackendHighErrorRatio
      expr: sum by (namespace, job) (rate(http_requests_total{ {{- $sel -}},status=~"5.."}[5m])) / sum by (namespace, job) (rate(http_requests_total{ {{- $sel -}} }[5m])) > {{ $pr.errorRatio }}
      for: 10m
      labels:
        severity: critical
      annotations:
        summary: "{{`{{ $value | humanizePercentage }} of the Clipper API's responses are 5xx.`}}"
        description: More than a ratio of {{ $pr.errorRatio }} of requests failed with a server error for 10 minutes.
    - alert: ClipperBackendHighLatencyP99
      expr: histogram_quantile(0.99, sum by (namespace, job, le) (rate(http_request_duration_seconds_bucket{ {{- $sel -}} }[5m]))) > {{ $pr.p99LatencySeconds }}
      for: 10m
      labels:
        severity: warning
      annotations:
        summary: "{{`The Clipper API's p99 latency is {{ $value | humanizeDuration }}.`}}"
        description: The slowest 1% of requests took more than {{ $pr.p99LatencySeconds }}s for 10 minutes.
    {{- if .Values.autoscaling.enabled }}
    - alert: ClipperBackendAtMaxReplicas
      expr: kube_horizontalpodautoscaler_status_current_replicas{ {{- $ns -}},horizontalpodautoscaler="{{ $name }}"} >= kube_horizontalpodautoscaler_spec_max_replicas{ {{- $ns -}},horizontalpodautoscaler="{{ $name }}"}
      for: 15m
      labels:
        severity: warning
      annotations:
        summary: The backend's HorizontalPodAutoscaler has run at its maximum ({{ .Values.autoscaling.maxReplicas }}) for 15 minutes.
        description: Load is above what autoscaling.maxReplicas allows; raise it or add capacity.
    {{- end }}
    {{- if and .Values.exports.persistence.enabled (not .Values.exports.persistence.existingClaim) }}
    - alert: ClipperBackendExportsVolumeFilling
      expr: kubelet_volume_stats_available_bytes{ {{- $ns -}},persistentvolumeclaim="{{ $name }}-exports"} / kubelet_volume_stats_capacity_bytes{ {{- $ns -}},persistentvolumeclaim="{{ $name }}-exports"} < {{ $pr.volumeFreeRatio }}
      for: 15m
      labels:
        severity: warning
      annotations:
        summary: "{{`The exports volume has {{ $value | humanizePercentage }} free.`}}"
        description: User data exports will fail when the claim is full; raise exports.persistence.size.
    {{- end }}
{{- end -}}
