{{/* Thin wrappers around the clipper-common library. */}}
{{- define "postgres.name" -}}
{{- include "clipper-common.name" . -}}
{{- end -}}

{{- define "postgres.fullname" -}}
{{- include "clipper-common.fullname" . -}}
{{- end -}}

{{/* Labels; takes (dict "ctx" $ "component" "primary"). */}}
{{- define "postgres.labels" -}}
{{- include "clipper-common.labels" . -}}
{{- end -}}

{{- define "postgres.selectorLabels" -}}
{{- include "clipper-common.selectorLabels" . -}}
{{- end -}}

{{- define "postgres.serviceAccountName" -}}
{{- include "clipper-common.serviceAccountName" . -}}
{{- end -}}

{{/*
Connection settings: a non-empty global.postgres.* wins over auth.* (the one precedence rule of
every chart), so the backend (which reads the same globals) and the server agree.
*/}}
{{- define "postgres.globalPostgres" -}}
{{- $g := .Values.global | default dict -}}
{{- toYaml (get $g "postgres" | default dict) -}}
{{- end -}}

{{- define "postgres.username" -}}
{{- (fromYaml (include "postgres.globalPostgres" .)).username | default .Values.auth.username | default "clipper" | toString -}}
{{- end -}}

{{- define "postgres.database" -}}
{{- (fromYaml (include "postgres.globalPostgres" .)).database | default .Values.auth.database | default "clipper_db" | toString -}}
{{- end -}}

{{/* The user-provided Secret, or "" when the chart makes its own. */}}
{{- define "postgres.existingSecret" -}}
{{- tpl ((fromYaml (include "postgres.globalPostgres" .)).existingSecret | default "" | toString) . | default .Values.auth.existingSecret -}}
{{- end -}}

{{/* The password given in values: global.postgres.password (umbrella), then auth.password. */}}
{{- define "postgres.givenPassword" -}}
{{- (fromYaml (include "postgres.globalPostgres" .)).password | default .Values.auth.password | default "" | toString -}}
{{- end -}}

{{- define "postgres.secretName" -}}
{{- include "postgres.existingSecret" . | default (include "postgres.fullname" .) -}}
{{- end -}}

{{- define "postgres.passwordKey" -}}
{{- (fromYaml (include "postgres.globalPostgres" .)).passwordKey | default .Values.auth.passwordKey | default "password" -}}
{{- end -}}

{{/*
A password kept in a chart-made Secret, decided once per render (memoised under .memo in .Values so
the Secret and the checksum agree):
  - an existing Secret (lookup) keeps its password: a different given password is refused unless
    auth.allowPasswordChange, a Secret without the key is refused;
  - otherwise the given password, or 32 random characters (unless auth.generate is false).
Never rotates silently: PostgreSQL keeps the password it was initialised with.
(dict "ctx" $ "secret" name "key" key "given" pw "givenKey" "auth.password" "note" "" "role" user "memo" "__x")
*/}}
{{- define "postgres.keptPassword" -}}
{{- $ctx := .ctx -}}
{{- if not (hasKey $ctx.Values .memo) -}}
{{- $ns := $ctx.Release.Namespace -}}
{{- $pw := "" -}}
{{- $found := lookup "v1" "Secret" $ns .secret -}}
{{- if $found -}}
{{- $stored := get ($found.data | default dict) .key -}}
{{- if not $stored -}}
{{- fail (printf "Secret %s/%s exists but has no key %q: PostgreSQL keeps the password it was initialised with, so the chart will not invent a new one. Put the current password under %q in that Secret (kubectl -n %s edit secret %s), or set auth.existingSecret to the Secret that holds it" $ns .secret .key .key $ns .secret) -}}
{{- end -}}
{{- $pw = b64dec $stored -}}
{{- if and .given (ne .given $pw) -}}
{{- if $ctx.Values.auth.allowPasswordChange -}}
{{- $pw = .given -}}
{{- else -}}
{{- fail (printf "%s differs from the password stored in Secret %s/%s%s: PostgreSQL keeps the password it was initialised with, so changing the Secret alone would lock its users out. Either remove %s to keep the current one, or run ALTER ROLE %s PASSWORD '<new>' in the database first and then upgrade with %s=<new> and auth.allowPasswordChange=true" .givenKey $ns .secret (.note | default "") .givenKey .role .givenKey) -}}
{{- end -}}
{{- end -}}
{{- else -}}
{{- if and (not .given) (not $ctx.Values.auth.generate) -}}
{{- fail (printf "auth.generate is false and no password is given, and Secret %s/%s does not exist (or cannot be read: helm template has no cluster access): set %s%s or an existing Secret, or set auth.generate=true" $ns .secret .givenKey (.note | default "")) -}}
{{- end -}}
{{- $pw = .given | default (randAlphaNum 32) -}}
{{- end -}}
{{- $_ := set $ctx.Values .memo $pw -}}
{{- end -}}
{{- get $ctx.Values .memo -}}
{{- end -}}

{{/* The application role's password in the chart-made Secret <fullname>. */}}
{{- define "postgres.password" -}}
{{- include "postgres.keptPassword" (dict "ctx" . "secret" (include "postgres.fullname" .) "key" (include "postgres.passwordKey" .) "given" (include "postgres.givenPassword" .) "givenKey" "auth.password" "note" " (in the umbrella the password is global.postgres.password)" "role" (include "postgres.username" .) "memo" "__postgresPassword") -}}
{{- end -}}

{{/* The superuser's Secret: auth.superuser.existingSecret or the chart-made <fullname>-superuser. */}}
{{- define "postgres.superuserSecretName" -}}
{{- .Values.auth.superuser.existingSecret | default (printf "%s-superuser" (include "postgres.fullname" .)) -}}
{{- end -}}

{{- define "postgres.superuserPassword" -}}
{{- include "postgres.keptPassword" (dict "ctx" . "secret" (include "postgres.superuserSecretName" .) "key" .Values.auth.superuser.passwordKey "given" (.Values.auth.superuser.password | toString) "givenKey" "auth.superuser.password" "role" .Values.auth.superuser.username "memo" "__postgresSuperuserPassword") -}}
{{- end -}}

{{/*
Installs made before the application got its own role ran the backend as the bootstrap superuser
(POSTGRES_USER was auth.username). Upgrading them in place would keep that superuser, so it is
refused with the way out: a dump, a fresh install and a restore (INSTALLATION.md).
*/}}
{{- define "postgres.refuseSuperuserLayout" -}}
{{- $sts := lookup "apps/v1" "StatefulSet" .Release.Namespace (include "postgres.fullname" .) -}}
{{- if $sts -}}
{{- $env := list -}}
{{- range $sts.spec.template.spec.containers -}}
{{- if eq .name "postgres" -}}
{{- range .env -}}{{- $env = append $env .name -}}{{- end -}}
{{- end -}}
{{- end -}}
{{- if not (has "POSTGRES_APP_USER" $env) -}}
{{- fail (printf "StatefulSet %s/%s was installed by a chart version whose application role is PostgreSQL's superuser; this version gives the application a role without superuser rights, which an in-place upgrade cannot do. Move the data with a dump: helm-mgmt backup, uninstall with --delete-pvcs, install this version, helm-mgmt restore (INSTALLATION.md, \"Upgrading from the superuser layout\")" .Release.Namespace (include "postgres.fullname" .)) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
Shell lines that wait until PostgreSQL at $PGHOST:$PGPORT answers, 30 tries a second apart: a
NetworkPolicy engine may admit a new pod's address a moment after the pod starts.
*/}}
{{- define "postgres.waitForServer" -}}
tries=0
until pg_isready --quiet --timeout=2; do
  tries=$((tries + 1))
  [ "$tries" -lt 30 ] || { echo "${PGHOST}:${PGPORT} did not answer for 30 tries" >&2; exit 1; }
  sleep 1
done
{{- end -}}

{{/* pg_isready with the configured user and database, on the loopback address. */}}
{{- define "postgres.pgIsReady" -}}
exec:
  command:
    - pg_isready
    - --host=127.0.0.1
    - --port=5432
    - --username={{ include "postgres.username" . }}
    - --dbname={{ include "postgres.database" . }}
    - --timeout=3
{{- end -}}

{{/* A probe block: (dict "ctx" $ "probe" .Values.livenessProbe). */}}
{{- define "postgres.probe" -}}
{{ include "postgres.pgIsReady" .ctx }}
initialDelaySeconds: {{ .probe.initialDelaySeconds }}
periodSeconds: {{ .probe.periodSeconds }}
timeoutSeconds: {{ .probe.timeoutSeconds }}
failureThreshold: {{ .probe.failureThreshold }}
successThreshold: {{ .probe.successThreshold }}
{{- end -}}

{{/*
The password Secret as a volume: the key is mounted as /run/secrets/postgres/password, readable by
the pod's group only. Files rather than env: the server reads POSTGRES_PASSWORD_FILE, the exporter
DATA_SOURCE_PASS_FILE, and the scripts export PGPASSWORD from the file into their own process.
*/}}
{{- define "postgres.passwordVolume" -}}
- name: password
  secret:
    secretName: {{ include "postgres.secretName" . }}
    defaultMode: 0440
    items:
      - key: {{ include "postgres.passwordKey" . }}
        path: password
{{- end -}}

{{/* The superuser's password, for the server container only (initdb sets it). */}}
{{- define "postgres.superuserPasswordVolume" -}}
- name: superuser-password
  secret:
    secretName: {{ include "postgres.superuserSecretName" . }}
    defaultMode: 0440
    items:
      - key: {{ .Values.auth.superuser.passwordKey }}
        path: password
{{- end -}}

{{- define "postgres.passwordMount" -}}
- name: password
  mountPath: /run/secrets/postgres
  readOnly: true
{{- end -}}

{{/* The server's own variables, as a YAML list (postgres.validate keeps extraEnv off their names). */}}
{{- define "postgres.chartEnv" -}}
{{- toYaml (list
  (dict "name" "POSTGRES_USER" "value" .Values.auth.superuser.username)
  (dict "name" "POSTGRES_PASSWORD_FILE" "value" "/run/secrets/postgres-superuser/password")
  (dict "name" "POSTGRES_DB" "value" (include "postgres.database" .))
  (dict "name" "POSTGRES_APP_USER" "value" (include "postgres.username" .))
  (dict "name" "POSTGRES_APP_PASSWORD_FILE" "value" "/run/secrets/postgres/password")
  (dict "name" "PGDATA" "value" "/var/lib/postgresql/data/pgdata")
  (dict "name" "POSTGRES_INITDB_ARGS" "value" (toString .Values.initdb.args))
) -}}
{{- end -}}

{{/* Container env: the chart's variables, then .Values.extraEnv. Renders a YAML list. */}}
{{- define "postgres.env" -}}
{{- toYaml (concat (include "postgres.chartEnv" . | fromYamlArray) (.Values.extraEnv | default list)) -}}
{{- end -}}

{{/* Hardened container securityContext. */}}
{{- define "postgres.containerSecurityContext" -}}
{{- toYaml .Values.securityContext -}}
{{- end -}}

{{/* storageClassName line for the backup PVC: same rules as the data volume. */}}
{{- define "postgres.backupStorageClassName" -}}
{{- include "clipper-common.storageClassName" (dict "Values" (dict "global" .Values.global "persistence" .Values.backup.persistence)) -}}
{{- end -}}
