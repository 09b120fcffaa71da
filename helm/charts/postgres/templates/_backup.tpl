{{/*
The Job spec of the backup CronJob, and of the one-off Job that checks the backup volume at the
install and whenever its spec changes. Takes (dict "ctx" $ "check" bool). The check exists because a claim on a
StorageClass that binds on first use (WaitForFirstConsumer, the usual cloud default) stays Pending
until a pod mounts it, and `helm --wait` waits for every claim to be bound (helm/helm#10733): the
check's pod binds it, and proves the volume writable for the postgres user, at install rather than
at the first scheduled dump.
*/}}
{{- define "postgres.backupJobSpec" -}}
{{- $ctx := .ctx -}}
{{- $fullname := include "postgres.fullname" $ctx -}}
{{- $v := $ctx.Values -}}
backoffLimit: {{ ternary 2 $v.backup.backoffLimit .check }}
activeDeadlineSeconds: {{ ternary 300 $v.backup.activeDeadlineSeconds .check }}
template:
  metadata:
    labels:
      {{- include "postgres.labels" (dict "ctx" $ctx "component" "backup") | nindent 6 }}
  spec:
    restartPolicy: Never
    serviceAccountName: {{ include "postgres.serviceAccountName" $ctx }}
    automountServiceAccountToken: false
    {{- with include "clipper-common.imagePullSecrets" $ctx }}{{- . | trim | nindent 4 }}{{- end }}
    securityContext:
      {{- toYaml $v.podSecurityContext | nindent 6 }}
    containers:
      - name: {{ ternary "check-volume" "pg-dump" .check }}
        image: {{ include "clipper-common.image" (dict "ctx" $ctx "image" $v.image "key" "image") }}
        imagePullPolicy: {{ $v.image.pullPolicy }}
        {{- if .check }}
        command: ["/bin/sh", "-c", "touch /backups/.writable && rm /backups/.writable && echo backup volume writable"]
        {{- else }}
        command:
          - /bin/sh
          - -c
          - |
            set -eu
            PGPASSWORD="$(cat "${POSTGRES_PASSWORD_FILE}")"; export PGPASSWORD
            umask 077
            dir="${BACKUP_DIR}"
            rm -f "$dir"/*.partial
            file="$dir/${PGDATABASE}-$(date -u +%Y%m%dT%H%M%SZ).dump"
            {{- include "postgres.waitForServer" . | nindent 12 }}
            echo "pg_dump of ${PGDATABASE} on ${PGHOST}:${PGPORT} to ${file}"
            pg_dump --format=custom --file="${file}.partial" "$@"
            mv "${file}.partial" "${file}"
            echo "dump complete: $(du -h "${file}" | cut -f1)"
            ls -1 "$dir/${PGDATABASE}"-*.dump | sort -r | tail -n +$((RETENTION + 1)) |
              while read -r old; do echo "removing ${old} (retention ${RETENTION})"; rm -f "${old}"; done
          - pg-backup
          {{- range $v.backup.extraArgs }}
          - {{ . | quote }}
          {{- end }}
        env:
          - name: PGHOST
            value: {{ $fullname }}
          - name: PGPORT
            value: {{ $v.service.port | quote }}
          - name: PGUSER
            value: {{ include "postgres.username" $ctx | quote }}
          - name: PGDATABASE
            value: {{ include "postgres.database" $ctx | quote }}
          - name: PGCONNECT_TIMEOUT
            value: "10"
          - name: POSTGRES_PASSWORD_FILE
            value: /run/secrets/postgres/password
          - name: BACKUP_DIR
            value: /backups
          - name: RETENTION
            value: {{ $v.backup.retention | quote }}
        {{- end }}
        resources:
          {{- toYaml $v.backup.resources | nindent 10 }}
        securityContext:
          {{- include "postgres.containerSecurityContext" $ctx | nindent 10 }}
        volumeMounts:
          - name: backups
            mountPath: /backups
          {{- if not .check }}
          - name: tmp
            mountPath: /tmp
          {{- include "postgres.passwordMount" $ctx | nindent 10 }}
          {{- end }}
    volumes:
      - name: backups
        persistentVolumeClaim:
          claimName: {{ $v.backup.persistence.existingClaim | default (printf "%s-backup" $fullname) }}
      {{- if not .check }}
      - name: tmp
        emptyDir:
          sizeLimit: {{ $v.emptyDirSizeLimit }}
      {{- include "postgres.passwordVolume" $ctx | nindent 6 }}
      {{- end }}
    {{- with $v.nodeSelector }}
    nodeSelector:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    {{- with $v.tolerations }}
    tolerations:
      {{- toYaml . | nindent 6 }}
    {{- end }}
{{- end -}}
