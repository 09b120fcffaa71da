{{/*
Checks the schema cannot express, all of them on every render (see clipper-common's _validate.tpl).
Included by validate.yaml. Each message names the value and says how to fix it. The checks against
the cluster's state (a kept password, the superuser layout) come after them.
*/}}
{{- define "postgres.validate" -}}
{{- $errors := list -}}
{{- $renamed := dict "auth.secretKeys.passwordKey" "auth.passwordKey" -}}
{{- $errors = concat $errors (include "clipper-common.renamedErrors" (dict "values" .Values "renamed" $renamed) | fromJsonArray) -}}
{{- $pairs := dict "auth.username" "global.postgres.username" "auth.database" "global.postgres.database"
  "auth.existingSecret" "global.postgres.existingSecret" "auth.passwordKey" "global.postgres.passwordKey"
  "auth.password" "global.postgres.password" "persistence.storageClassName" "global.storageClass"
  "backup.persistence.storageClassName" "global.storageClass" -}}
{{- $errors = concat $errors (include "clipper-common.globalWinsErrors" (dict "values" .Values "pairs" $pairs) | fromJsonArray) -}}
{{- $errors = concat $errors (include "clipper-common.monitoringErrors" . | fromJsonArray) -}}
{{- range $key, $image := dict "image" .Values.image "metrics.image" .Values.metrics.image -}}
{{- $errors = concat $errors (include "clipper-common.imageErrors" (dict "ctx" $ "image" $image "key" $key) | fromJsonArray) -}}
{{- end -}}
{{- $env := list -}}
{{- range include "postgres.chartEnv" . | fromYamlArray }}{{ $env = append $env .name }}{{ end -}}
{{- $errors = concat $errors (include "clipper-common.extraEnvErrors" (dict "env" .Values.extraEnv "owned" $env "fix" "use auth.*, initdb.args or persistence instead") | fromJsonArray) -}}
{{- range $key, $value := dict "username" (include "postgres.username" .) "database" (include "postgres.database" .) -}}
{{- if not (regexMatch "^[a-z_][a-z0-9_]{0,62}$" $value) -}}
{{- $errors = append $errors (printf "postgres %s %q is not usable: set auth.%s (or global.postgres.%s) to a lower-case PostgreSQL identifier such as \"%s\"" $key $value $key $key (ternary "clipper" "clipper_db" (eq $key "username"))) -}}
{{- end -}}
{{- end -}}
{{- if and (include "postgres.givenPassword" .) (include "postgres.existingSecret" .) -}}
{{- $errors = append $errors (printf "auth.password is set (or global.postgres.password in the umbrella) but the password comes from the existing Secret %q: remove auth.password (or global.postgres.password), or clear auth.existingSecret/global.postgres.existingSecret to let the chart make the Secret" (include "postgres.existingSecret" .)) -}}
{{- end -}}
{{- if not (regexMatch "^[-._a-zA-Z0-9]+$" (include "postgres.passwordKey" .)) -}}
{{- $errors = append $errors (printf "password key %q is not a valid Secret key: set auth.passwordKey (or global.postgres.passwordKey) to letters, digits, '-', '_' or '.', e.g. \"password\"" (include "postgres.passwordKey" .)) -}}
{{- end -}}
{{- range $name, $_ := .Values.initdb.scripts -}}
{{- if eq $name "00-clipper-roles.sh" -}}
{{- $errors = append $errors "initdb.scripts must not contain \"00-clipper-roles.sh\": the chart writes that file itself; rename your script (e.g. 10-my-script.sql)" -}}
{{- end -}}
{{- end -}}
{{- if eq (include "postgres.username" .) .Values.auth.superuser.username -}}
{{- $errors = append $errors (printf "auth.username and auth.superuser.username are both %q: the application's role must not be the superuser; give the superuser another name (the default is \"postgres\")" .Values.auth.superuser.username) -}}
{{- end -}}
{{- if and .Values.auth.superuser.password .Values.auth.superuser.existingSecret -}}
{{- $errors = append $errors (printf "auth.superuser.password is set but the superuser's password comes from the existing Secret %q: remove one of them" .Values.auth.superuser.existingSecret) -}}
{{- end -}}
{{- $reserved := list "listen_addresses" "port" "hba_file" "ident_file" "data_directory" "config_file" "unix_socket_directories" "max_connections" "password_encryption" -}}
{{- range $name, $_ := .Values.config.extra -}}
{{- if has (lower $name) $reserved -}}
{{- $errors = append $errors (printf "config.extra.%s is managed by the chart: remove it from config.extra (max_connections is set with config.maxConnections)" $name) -}}
{{- end -}}
{{- end -}}
{{- $errors = concat $errors (include "clipper-common.networkPolicyErrors" . | fromJsonArray) -}}
{{- include "clipper-common.failOnErrors" (dict "chart" .Chart.Name "errors" $errors) -}}
{{- include "postgres.refuseSuperuserLayout" . -}}
{{- end -}}
