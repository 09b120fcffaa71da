{{/*
Redis's alert rules. The job is the metrics Service's name (`<fullname>-metrics`), which the
ServiceMonitor gives the exporter's target; kubelet series are matched by namespace and claim.
*/}}
{{- define "redis.alertGroups" -}}
{{- $pr := .Values.metrics.prometheusRule -}}
{{- $name := include "redis.fullname" . -}}
{{- $sel := printf "job=\"%s-metrics\",namespace=%q" $name .Release.Namespace -}}
{{- $claim := printf "namespace=%q,persistentvolumeclaim=~\"%s-%s-[0-9]+\"" .Release.Namespace (include "redis.dataVolume" .) $name -}}
- name: clipper-redis
  rules:
    - alert: ClipperRedisDown
      expr: max by (namespace, job) (redis_up{ {{- $sel -}} }) == 0 or max by (namespace, job) (up{ {{- $sel -}} }) == 0 or absent(up{ {{- $sel -}} })
      for: {{ $pr.downFor }}
      labels:
        severity: critical
      annotations:
        summary: Redis {{ $name }} does not answer its exporter.
        description: Sessions, cache and chat fan-out of the Clipper API in {{ .Release.Namespace }} are failing.
    - alert: ClipperRedisMemoryNearMax
      expr: max by (namespace, job) (redis_memory_used_bytes{ {{- $sel -}} }) / max by (namespace, job) (redis_memory_max_bytes{ {{- $sel -}} } > 0) > {{ $pr.memoryRatio }}
      for: 10m
      labels:
        severity: warning
      annotations:
        summary: "{{`Redis uses {{ $value | humanizePercentage }} of maxmemory.`}}"
        description: Past maxmemory Redis evicts keys by config.maxmemoryPolicy (or refuses writes); raise resources.limits.memory.
    {{- if .Values.persistence.enabled }}
    - alert: ClipperRedisVolumeFilling
      expr: kubelet_volume_stats_available_bytes{ {{- $claim -}} } / kubelet_volume_stats_capacity_bytes{ {{- $claim -}} } < {{ $pr.volumeFreeRatio }}
      for: 15m
      labels:
        severity: warning
      annotations:
        summary: "{{`Volume {{ $labels.persistentvolumeclaim }} has {{ $value | humanizePercentage }} free.`}}"
        description: Redis cannot rewrite its append-only file when the volume is full; expand the claim.
    {{- end }}
{{- end -}}
