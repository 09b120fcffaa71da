{{/*
PostgreSQL's alert rules. The job is the metrics Service's name (`<fullname>-metrics`), which the
ServiceMonitor gives the exporter's target; kube-state-metrics and kubelet series are matched by
namespace and object name.
*/}}
{{- define "postgres.alertGroups" -}}
{{- $pr := .Values.metrics.prometheusRule -}}
{{- $name := include "postgres.fullname" . -}}
{{- $sel := printf "job=\"%s-metrics\",namespace=%q" $name .Release.Namespace -}}
{{- $ns := printf "namespace=%q" .Release.Namespace -}}
{{- $claims := printf "persistentvolumeclaim=~\"data-%s-[0-9]+%s\"" $name (ternary (printf "|%s-backup" $name) "" (and .Values.backup.enabled (not .Values.backup.persistence.existingClaim))) -}}
- name: clipper-postgres
  rules:
    - alert: ClipperPostgresDown
      expr: max by (namespace, job) (pg_up{ {{- $sel -}} }) == 0 or max by (namespace, job) (up{ {{- $sel -}} }) == 0 or absent(up{ {{- $sel -}} })
      for: {{ $pr.downFor }}
      labels:
        severity: critical
      annotations:
        summary: PostgreSQL {{ $name }} does not answer its exporter.
        description: The server in {{ .Release.Namespace }} is down or refuses the exporter's connection; the Clipper API cannot serve.
    - alert: ClipperPostgresConnectionsNearMax
      expr: sum by (namespace, job) (pg_stat_activity_count{ {{- $sel -}} }) / max by (namespace, job) (pg_settings_max_connections{ {{- $sel -}} }) > {{ $pr.connectionsRatio }}
      for: 5m
      labels:
        severity: warning
      annotations:
        summary: "{{`PostgreSQL uses {{ $value | humanizePercentage }} of max_connections.`}}"
        description: New connections will be refused once max_connections is reached; raise config.maxConnections or lower the backend's pool or replicas.
    - alert: ClipperPostgresVolumeFilling
      expr: kubelet_volume_stats_available_bytes{ {{- $ns -}},{{ $claims }}} / kubelet_volume_stats_capacity_bytes{ {{- $ns -}},{{ $claims }}} < {{ $pr.volumeFreeRatio }}
      for: 15m
      labels:
        severity: warning
      annotations:
        summary: "{{`Volume {{ $labels.persistentvolumeclaim }} has {{ $value | humanizePercentage }} free.`}}"
        description: PostgreSQL stops accepting writes when its volume is full; expand the claim.
    {{- if .Values.backup.enabled }}
    - alert: ClipperPostgresBackupFailed
      expr: max by (namespace, job_name) (kube_job_status_failed{ {{- $ns -}},job_name=~"{{ $name }}-backup-[0-9]+"}) > 0
      labels:
        severity: warning
      annotations:
        summary: "{{`Backup Job {{ $labels.job_name }} failed.`}}"
        description: A scheduled pg_dump failed; see `kubectl logs job/<name>` and the dumps on the backup volume.
    - alert: ClipperPostgresBackupLate
      expr: (time() - max(kube_cronjob_status_last_successful_time{ {{- $ns -}},cronjob="{{ $name }}-backup"})) > {{ $pr.backupLateAfterSeconds }} or ((time() - max(kube_cronjob_created{ {{- $ns -}},cronjob="{{ $name }}-backup"})) > {{ $pr.backupLateAfterSeconds }} unless max(kube_cronjob_status_last_successful_time{ {{- $ns -}},cronjob="{{ $name }}-backup"}))
      labels:
        severity: warning
      annotations:
        summary: No PostgreSQL backup has succeeded for {{ $pr.backupLateAfterSeconds }} seconds.
        description: The backup CronJob ({{ .Values.backup.schedule }}) has not completed a dump in time; check that it is scheduled and not suspended.
    {{- end }}
{{- end -}}
