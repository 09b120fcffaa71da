{{/*
Names and labels: thin calls into the clipper-common library.
*/}}
{{- define "backend.name" -}}
{{- include "clipper-common.name" . -}}
{{- end -}}

{{- define "backend.fullname" -}}
{{- include "clipper-common.fullname" . -}}
{{- end -}}

{{/* Takes (dict "ctx" $ "component" "api"). */}}
{{- define "backend.labels" -}}
{{- include "clipper-common.labels" . -}}
{{- end -}}

{{/* Takes (dict "ctx" $ "component" "api"). */}}
{{- define "backend.selectorLabels" -}}
{{- include "clipper-common.selectorLabels" . -}}
{{- end -}}

{{- define "backend.serviceAccountName" -}}
{{- include "clipper-common.serviceAccountName" . -}}
{{- end -}}

{{/* Public host: global.host wins over host. */}}
{{- define "backend.host" -}}
{{- default .Values.host (dig "host" "" (.Values.global | default dict)) -}}
{{- end -}}

{{/*
Database and Redis wiring (docs/chart-design.md): a non-empty global.* wins (the one precedence
rule of every chart), then the chart's own value, then the sibling chart of this release.
*/}}
{{- define "backend.db.host" -}}
{{- default (include "clipper-common.siblingFullname" (dict "ctx" . "chart" "postgres")) .Values.database.host -}}
{{- end -}}

{{- define "backend.db.user" -}}
{{- dig "postgres" "username" "" (.Values.global | default dict) | default .Values.database.user | default "clipper" -}}
{{- end -}}

{{- define "backend.db.name" -}}
{{- dig "postgres" "database" "" (.Values.global | default dict) | default .Values.database.name | default "clipper_db" -}}
{{- end -}}

{{/* global.*.existingSecret may be a template (e.g. the backend's own Secret name), rendered here. */}}
{{- define "backend.db.secretName" -}}
{{- tpl (dig "postgres" "existingSecret" "" (.Values.global | default dict)) . | default .Values.database.existingSecret | default (include "clipper-common.siblingFullname" (dict "ctx" . "chart" "postgres")) -}}
{{- end -}}

{{- define "backend.db.secretKey" -}}
{{- dig "postgres" "passwordKey" "" (.Values.global | default dict) | default .Values.database.passwordKey | default "password" -}}
{{- end -}}

{{- define "backend.redis.host" -}}
{{- default (include "clipper-common.siblingFullname" (dict "ctx" . "chart" "redis")) .Values.redis.host -}}
{{- end -}}

{{- define "backend.redis.secretName" -}}
{{- tpl (dig "redis" "existingSecret" "" (.Values.global | default dict)) . | default .Values.redis.existingSecret | default (include "clipper-common.siblingFullname" (dict "ctx" . "chart" "redis")) -}}
{{- end -}}

{{- define "backend.redis.secretKey" -}}
{{- dig "redis" "passwordKey" "" (.Values.global | default dict) | default .Values.redis.passwordKey | default "redis-password" -}}
{{- end -}}

{{/*
Where the app secrets come from: "existing", "external" or "chart".
*/}}
{{- define "backend.secretSource" -}}
{{- if .Values.secrets.existingSecret -}}existing
{{- else if .Values.externalSecret.enabled -}}external
{{- else -}}chart
{{- end -}}
{{- end -}}

{{- define "backend.secretName" -}}
{{- default (include "backend.fullname" .) .Values.secrets.existingSecret -}}
{{- end -}}

{{/* "true" when more than one pod can run at once. */}}
{{- define "backend.multiReplica" -}}
{{- if .Values.autoscaling.enabled -}}
{{- ternary "true" "" (gt (int .Values.autoscaling.maxReplicas) 1) -}}
{{- else -}}
{{- ternary "true" "" (gt (int .Values.replicaCount) 1) -}}
{{- end -}}
{{- end -}}

{{/* Secret key names of the ExternalSecret, as a list. */}}
{{- define "backend.externalSecretKeys" -}}
{{- $keys := list -}}
{{- range .Values.externalSecret.keys -}}
{{- if kindIs "map" . -}}
{{- $keys = append $keys .secretKey -}}
{{- else -}}
{{- $keys = append $keys (toString .) -}}
{{- end -}}
{{- end -}}
{{- toJson $keys -}}
{{- end -}}

{{/*
Data of the chart-made Secret (a map of plain strings), computed once per render and cached in
.Values so that secret.yaml, the checksum annotation and NOTES.txt see the same generated keys
(Helm shares one .Values map between the templates of a chart during a render).
MFA_ENCRYPTION_KEY and JWT_PRIVATE_KEY: the value given wins; else the value stored in the
existing Secret is reused (lookup); else, with secrets.generate, a new one is generated, unless
the existing Secret says it generated that key before (then the key was lost: fail, never rotate).
*/}}
{{- define "backend.chartSecretData" -}}
{{- if not (hasKey .Values "__backendChartSecretData") -}}
{{- $name := include "backend.fullname" . -}}
{{- $existing := lookup "v1" "Secret" .Release.Namespace $name | default dict -}}
{{- $existingData := get $existing "data" | default dict -}}
{{- $generatedBefore := splitList "," (dig "metadata" "annotations" "clpr.tv/generated-keys" "" $existing) -}}
{{- $data := dict -}}
{{- $generated := list -}}
{{- range $key, $value := .Values.secrets.values -}}
{{- if $value -}}{{- $_ := set $data $key (toString $value) -}}{{- end -}}
{{- end -}}
{{- range $key, $value := .Values.secrets.extraValues -}}
{{- if $value -}}{{- $_ := set $data $key (toString $value) -}}{{- end -}}
{{- end -}}
{{- range $key := list "MFA_ENCRYPTION_KEY" "JWT_PRIVATE_KEY" -}}
{{- if not (hasKey $data $key) -}}
{{- if hasKey $existingData $key -}}
{{- $_ := set $data $key (b64dec (get $existingData $key)) -}}
{{- if has $key $generatedBefore -}}{{- $generated = append $generated $key -}}{{- end -}}
{{- else if and $existing (has $key $generatedBefore) -}}
{{- fail (printf "Secret %s/%s was made by this chart with a generated %s, but that key is gone from it. Generating a new one would silently %s. Restore the key into the Secret (from a backup), or set secrets.values.%s explicitly to rotate it on purpose." $.Release.Namespace $name $key (ternary "lock every MFA user out" "log every user out" (eq $key "MFA_ENCRYPTION_KEY")) $key) -}}
{{- else if $.Values.secrets.generate -}}
{{- if eq $key "MFA_ENCRYPTION_KEY" -}}
{{- $_ := set $data $key (randAlphaNum 32) -}}
{{- else -}}
{{- $_ := set $data $key (genPrivateKey "rsa") -}}
{{- end -}}
{{- $generated = append $generated $key -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $_ := set .Values "__backendChartSecretData" (dict "data" $data "generated" $generated "reused" (not (empty $existing))) -}}
{{- end -}}
{{- toJson (get .Values "__backendChartSecretData") -}}
{{- end -}}

{{/* Plain settings of the ConfigMap, as a map. */}}
{{- define "backend.configData" -}}
{{- $origin := printf "https://%s" (include "backend.host" .) -}}
{{- $data := dict -}}
{{- range $key, $value := .Values.config -}}
{{- if not (kindIs "invalid" $value) -}}
{{- if ne (toString $value) "" -}}{{- $_ := set $data $key (toString $value) -}}{{- end -}}
{{- end -}}
{{- end -}}
{{- range $key := list "BASE_URL" "CORS_ALLOWED_ORIGINS" "WEBSOCKET_ALLOWED_ORIGINS" -}}
{{- if not (hasKey $data $key) -}}{{- $_ := set $data $key $origin -}}{{- end -}}
{{- end -}}
{{- range $key, $value := .Values.extraConfig -}}
{{- $_ := set $data $key (toString $value) -}}
{{- end -}}
{{- $_ := set $data "PORT" (toString .Values.containerPort) -}}
{{- $_ := set $data "EXPORT_DIR" .Values.exports.mountPath -}}
{{- $_ := set $data "DB_HOST" (include "backend.db.host" .) -}}
{{- $_ := set $data "DB_PORT" (toString .Values.database.port) -}}
{{- $_ := set $data "DB_USER" (include "backend.db.user" .) -}}
{{- $_ := set $data "DB_NAME" (include "backend.db.name" .) -}}
{{- $_ := set $data "DB_SSLMODE" .Values.database.sslmode -}}
{{- $_ := set $data "REDIS_HOST" (include "backend.redis.host" .) -}}
{{- $_ := set $data "REDIS_PORT" (toString .Values.redis.port) -}}
{{- $_ := set $data "REDIS_DB" (toString .Values.redis.db) -}}
{{- toJson $data -}}
{{- end -}}

{{/* Hardened security context of the chart's helper containers (init, migrations, test). */}}
{{- define "backend.helperSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Pod security context of the chart's helper pods (migrations Job, test pod). */}}
{{- define "backend.helperPodSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Image of the helper containers (wait-for-dependencies falls back to tests.image). */}}
{{- define "backend.waitImage" -}}
{{- if .Values.waitForDependencies.image.repository -}}
{{- include "clipper-common.image" (dict "ctx" . "image" .Values.waitForDependencies.image "key" "waitForDependencies.image") -}}
{{- else -}}
{{- include "clipper-common.image" (dict "ctx" . "image" .Values.tests.image "key" "tests.image") -}}
{{- end -}}
{{- end -}}

{{/*
Egress port towards PostgreSQL / Redis. NetworkPolicy ports are the destination pod's ports: the
bundled servers (host empty) always listen on 5432 / 6379 whatever their Service port; an external
server is reached on the configured port. Takes (dict "ctx" $ "kind" "database"|"redis").
*/}}
{{- define "backend.egressPort" -}}
{{- $v := get .ctx.Values .kind -}}
{{- if $v.host -}}{{ $v.port }}{{- else -}}{{ ternary 5432 6379 (eq .kind "database") }}{{- end -}}
{{- end -}}

{{/*
The wait-for-dependencies init container. Takes (dict "ctx" $ "redis" true|false): the Deployment
waits for PostgreSQL and Redis, the migrations Job for PostgreSQL only.
*/}}
{{- define "backend.waitForDependencies" -}}
{{- $ := .ctx -}}
{{- $targets := list "\"$DB_HOST:$DB_PORT\"" -}}
{{- if .redis }}{{ $targets = append $targets "\"$REDIS_HOST:$REDIS_PORT\"" }}{{ end -}}
- name: wait-for-dependencies
  image: {{ include "backend.waitImage" $ }}
  imagePullPolicy: {{ ternary $.Values.waitForDependencies.image.pullPolicy $.Values.tests.image.pullPolicy (not (empty $.Values.waitForDependencies.image.repository)) }}
  command:
    - sh
    - -c
    - |
      deadline=$(( $(date +%s) + {{ $.Values.waitForDependencies.timeoutSeconds }} ))
      for target in {{ join " " $targets }}; do
        host="${target%:*}"; port="${target##*:}"
        until nc -z -w 2 "$host" "$port"; do
          if [ "$(date +%s)" -ge "$deadline" ]; then
            echo "gave up after {{ $.Values.waitForDependencies.timeoutSeconds }}s: $host:$port does not accept connections" >&2
            exit 1
          fi
          echo "waiting for $host:$port"
          sleep 2
        done
        echo "$host:$port accepts connections"
      done
  env:
    - name: DB_HOST
      value: {{ include "backend.db.host" $ | quote }}
    - name: DB_PORT
      value: {{ $.Values.database.port | quote }}
    {{- if .redis }}
    - name: REDIS_HOST
      value: {{ include "backend.redis.host" $ | quote }}
    - name: REDIS_PORT
      value: {{ $.Values.redis.port | quote }}
    {{- end }}
  securityContext:
    {{- include "backend.helperSecurityContext" $ | nindent 4 }}
  resources:
    {{- toYaml $.Values.waitForDependencies.resources | nindent 4 }}
{{- end -}}

{{/*
Where `migrate` reads the migration files: the copy of a ConfigMap or of a source image under
/run/migrations, or else the folder inside the migrations image itself (`migrations.source.path`).
*/}}
{{- define "backend.migrations.path" -}}
{{- $src := .Values.migrations.source -}}
{{- if or $src.configMap $src.image.repository -}}/run/migrations{{- else -}}{{ $src.path }}{{- end -}}
{{- end -}}

{{/* The `migrations` volume, when the files come from a ConfigMap or a source image (a list item or nothing). */}}
{{- define "backend.migrations.volume" -}}
{{- $src := .Values.migrations.source -}}
{{- if $src.configMap }}
- name: migrations
  configMap:
    name: {{ $src.configMap }}
{{- else if $src.image.repository }}
- name: migrations
  emptyDir:
    sizeLimit: 64Mi
{{- end }}
{{- end -}}

{{/*
The containers that apply the migrations: `copy-migrations` (with a source image) and `migrate`,
which runs `migrate <command>` against the release's database. Used by the hook Job and, as init
containers, by the backend pods.
*/}}
{{- define "backend.migrations.containers" -}}
{{- $m := .Values.migrations -}}
{{- $path := include "backend.migrations.path" . -}}
{{- $mounted := or $m.source.configMap $m.source.image.repository -}}
{{- if $m.source.image.repository }}
- name: copy-migrations
  image: {{ include "clipper-common.image" (dict "ctx" . "image" $m.source.image "key" "migrations.source.image") }}
  imagePullPolicy: {{ $m.source.image.pullPolicy }}
  command: ["sh", "-c", 'cp -R "$SOURCE"/. /run/migrations/ && ls /run/migrations']
  env:
    - name: SOURCE
      value: {{ $m.source.path | quote }}
  securityContext:
    {{- include "backend.helperSecurityContext" . | nindent 4 }}
  resources:
    {{- toYaml $m.resources | nindent 4 }}
  volumeMounts:
    - name: migrations
      mountPath: /run/migrations
{{- end }}
- name: migrate
  image: {{ include "clipper-common.image" (dict "ctx" . "image" $m.image "key" "migrations.image") }}
  imagePullPolicy: {{ $m.image.pullPolicy }}
  # Every byte of user, password and database name is percent-encoded, so any character
  # in the password survives the URL.
  command:
    - sh
    - -c
    - |
      set -eu
      enc() { printf '%s' "$1" | od -An -tx1 -v | tr -d ' \n' | sed 's/../%&/g'; }
      url="postgres://$(enc "$DB_USER"):$(enc "$DB_PASSWORD")@${DB_HOST}:${DB_PORT}/$(enc "$DB_NAME")?sslmode=${DB_SSLMODE}"
      exec migrate -path {{ $path | quote }} -database "$url" "$@"
    - migrate
    {{- range $m.command }}
    - {{ . | quote }}
    {{- end }}
  env:
    - name: DB_HOST
      value: {{ include "backend.db.host" . | quote }}
    - name: DB_PORT
      value: {{ .Values.database.port | quote }}
    - name: DB_USER
      value: {{ include "backend.db.user" . | quote }}
    - name: DB_NAME
      value: {{ include "backend.db.name" . | quote }}
    - name: DB_SSLMODE
      value: {{ .Values.database.sslmode | quote }}
    - name: DB_PASSWORD
      valueFrom:
        secretKeyRef:
          name: {{ include "backend.db.secretName" . }}
          key: {{ include "backend.db.secretKey" . }}
  securityContext:
    {{- include "backend.helperSecurityContext" . | nindent 4 }}
  resources:
    {{- toYaml $m.resources | nindent 4 }}
  {{- if $mounted }}
  volumeMounts:
    - name: migrations
      mountPath: /run/migrations
      readOnly: true
  {{- end }}
{{- end -}}
