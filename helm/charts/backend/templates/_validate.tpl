{{/*
Checks the schema cannot express, all of them on every render (see clipper-common's _validate.tpl).
Included by validate.yaml. Each message names the value and says how to fix it.
*/}}
{{- define "backend.validate" -}}
{{- $errors := list -}}
{{- $renamed := dict "database.existingSecretPasswordKey" "database.passwordKey" "redis.existingSecretPasswordKey" "redis.passwordKey" "preStop.command" "preStop.sleepSeconds" -}}
{{- $errors = concat $errors (include "clipper-common.renamedErrors" (dict "values" .Values "renamed" $renamed) | fromJsonArray) -}}
{{- $pairs := dict "database.user" "global.postgres.username" "database.name" "global.postgres.database"
  "database.existingSecret" "global.postgres.existingSecret" "database.passwordKey" "global.postgres.passwordKey"
  "redis.existingSecret" "global.redis.existingSecret" "redis.passwordKey" "global.redis.passwordKey"
  "exports.persistence.storageClassName" "global.storageClass" -}}
{{- $errors = concat $errors (include "clipper-common.globalWinsErrors" (dict "values" .Values "pairs" $pairs) | fromJsonArray) -}}
{{- $errors = concat $errors (include "clipper-common.scalingErrors" . | fromJsonArray) -}}
{{- $images := dict "image" .Values.image "tests.image" .Values.tests.image -}}
{{- if .Values.waitForDependencies.image.repository -}}{{- $_ := set $images "waitForDependencies.image" .Values.waitForDependencies.image -}}{{- end -}}
{{- if .Values.migrations.enabled -}}{{- $_ := set $images "migrations.image" .Values.migrations.image -}}{{- end -}}
{{- if and .Values.migrations.enabled .Values.migrations.source.image.repository -}}{{- $_ := set $images "migrations.source.image" .Values.migrations.source.image -}}{{- end -}}
{{- range $key, $image := $images -}}
{{- $errors = concat $errors (include "clipper-common.imageErrors" (dict "ctx" $ "image" $image "key" $key) | fromJsonArray) -}}
{{- end -}}
{{- $sources := list -}}
{{- if .Values.secrets.existingSecret -}}{{- $sources = append $sources "secrets.existingSecret" -}}{{- end -}}
{{- if .Values.externalSecret.enabled -}}{{- $sources = append $sources "externalSecret.enabled" -}}{{- end -}}
{{- $given := list -}}
{{- range $key, $value := .Values.secrets.values -}}{{- if $value -}}{{- $given = append $given (printf "secrets.values.%s" $key) -}}{{- end -}}{{- end -}}
{{- range $key, $value := .Values.secrets.extraValues -}}{{- if $value -}}{{- $given = append $given (printf "secrets.extraValues.%s" $key) -}}{{- end -}}{{- end -}}
{{- if $given -}}{{- $sources = append $sources (printf "secrets.values (%s)" (join ", " $given)) -}}{{- end -}}
{{- if gt (len $sources) 1 -}}
{{- $errors = append $errors (printf "more than one source of app secrets is selected: %s. Choose exactly one: secrets.existingSecret (a Secret you manage), externalSecret.enabled (External Secrets Operator) or secrets.values (a Secret made by the chart), and unset the others" (join " and " $sources)) -}}
{{- end -}}

{{- if not (include "backend.host" .) -}}
{{- range $key := list "BASE_URL" "CORS_ALLOWED_ORIGINS" "WEBSOCKET_ALLOWED_ORIGINS" -}}
{{- if not (get $.Values.config $key) -}}
{{- $errors = append $errors (printf "host (and global.host) is empty, so config.%s has no default: set host to the public host name (e.g. clpr.tv) or set config.%s" $key $key) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- $mfa := toString .Values.secrets.values.MFA_ENCRYPTION_KEY -}}
{{- if $mfa -}}
{{- if not (or (eq (len $mfa) 32) (regexMatch "^[A-Za-z0-9+/]{43}=$" $mfa)) -}}
{{- $errors = append $errors (printf "secrets.values.MFA_ENCRYPTION_KEY must be 32 bytes, raw or base64-encoded (44 characters), but it is %d characters long: generate one with `openssl rand -base64 32`" (len $mfa)) -}}
{{- end -}}
{{- end -}}
{{- $jwt := toString .Values.secrets.values.JWT_PRIVATE_KEY -}}
{{- if and $jwt (not (regexMatch "-----BEGIN (RSA )?PRIVATE KEY-----" $jwt)) -}}
{{- $errors = append $errors "secrets.values.JWT_PRIVATE_KEY is not a PEM-encoded RSA private key: create one with `openssl genrsa 4096` and pass it with --set-file secrets.values.JWT_PRIVATE_KEY=key.pem" -}}
{{- end -}}

{{- $multi := include "backend.multiReplica" . -}}
{{- $replicas := ternary (printf "autoscaling.maxReplicas=%v" .Values.autoscaling.maxReplicas) (printf "replicaCount=%v" .Values.replicaCount) .Values.autoscaling.enabled -}}
{{- $source := include "backend.secretSource" . -}}
{{- if eq $source "chart" -}}
{{- $data := get (include "backend.chartSecretData" . | fromJson) "data" -}}
{{- if not (hasKey $data "MFA_ENCRYPTION_KEY") -}}
{{- $errors = append $errors "secrets.values.MFA_ENCRYPTION_KEY is empty and secrets.generate is false: the backend exits without it. Set secrets.values.MFA_ENCRYPTION_KEY (32 bytes raw or base64, e.g. `openssl rand -base64 32`), set secrets.generate=true, or use secrets.existingSecret / externalSecret" -}}
{{- end -}}
{{- if and $multi (not (hasKey $data "JWT_PRIVATE_KEY")) -}}
{{- $errors = append $errors (printf "more than one backend replica (%s) but secrets.values.JWT_PRIVATE_KEY is empty and secrets.generate is false: every pod would sign logins with its own key and logins would break across replicas. Set secrets.values.JWT_PRIVATE_KEY (--set-file secrets.values.JWT_PRIVATE_KEY=key.pem), set secrets.generate=true, or run one replica" $replicas) -}}
{{- end -}}
{{- else if eq $source "external" -}}
{{- if not .Values.externalSecret.secretStoreRef.name -}}
{{- $errors = append $errors "externalSecret.enabled is true but externalSecret.secretStoreRef.name is empty: name the SecretStore or ClusterSecretStore to read from" -}}
{{- end -}}
{{- $keys := include "backend.externalSecretKeys" . | fromJsonArray -}}
{{- if not (has "MFA_ENCRYPTION_KEY" $keys) -}}
{{- $errors = append $errors "externalSecret.keys lacks MFA_ENCRYPTION_KEY: the backend exits without it. Add MFA_ENCRYPTION_KEY to externalSecret.keys (and to the store)" -}}
{{- end -}}
{{- if and $multi (not (has "JWT_PRIVATE_KEY" $keys)) -}}
{{- $errors = append $errors (printf "more than one backend replica (%s) but externalSecret.keys lacks JWT_PRIVATE_KEY: every pod would sign logins with its own key and logins would break across replicas. Add JWT_PRIVATE_KEY to externalSecret.keys (and to the store), or run one replica" $replicas) -}}
{{- end -}}
{{- end -}}

{{- $owned := list "PORT" "EXPORT_DIR" "DB_HOST" "DB_PORT" "DB_USER" "DB_NAME" "DB_SSLMODE" "REDIS_HOST" "REDIS_PORT" "REDIS_DB" -}}
{{- $unread := list "JWT_SECRET" "JWT_PUBLIC_KEY" "LOG_LEVEL" "RATE_LIMIT_ENABLED" -}}
{{- $secret := list "DB_PASSWORD" "REDIS_PASSWORD" "JWT_PRIVATE_KEY" "MFA_ENCRYPTION_KEY" "TWITCH_CLIENT_SECRET" "STRIPE_SECRET_KEY" "STRIPE_WEBHOOK_SECRET" "SENDGRID_API_KEY" "OPENAI_API_KEY" "OPENSEARCH_USERNAME" "OPENSEARCH_PASSWORD" "SENTRY_DSN" -}}
{{- range $key, $_ := .Values.extraConfig -}}
{{- if has $key $owned -}}
{{- $errors = append $errors (printf "extraConfig.%s is set by the chart: use containerPort, exports.mountPath, database.* or redis.* instead, and remove extraConfig.%s" $key $key) -}}
{{- else if or (has $key $unread) (and (hasPrefix "RATE_LIMIT_" $key) (ne $key "RATE_LIMIT_WHITELIST_IPS")) -}}
{{- $errors = append $errors (printf "extraConfig.%s is not read by the Clipper backend (it has no effect; of RATE_LIMIT_* it reads only RATE_LIMIT_WHITELIST_IPS, the limits are fixed in its routes): remove it" $key) -}}
{{- else if or (has $key $secret) (regexMatch "(SECRET|PASSWORD|API_KEY|_TOKEN|_DSN)$" $key) -}}
{{- $errors = append $errors (printf "extraConfig.%s looks like a secret and would land in a ConfigMap: move it to secrets.values / secrets.extraValues, your existingSecret or externalSecret.keys" $key) -}}
{{- end -}}
{{- end -}}

{{- if and .Values.preStop.enabled (le (int .Values.terminationGracePeriodSeconds) (add (int .Values.preStop.sleepSeconds) 5)) -}}
{{- $errors = append $errors (printf "terminationGracePeriodSeconds (%v) must exceed the preStop pause (%v s) plus the backend's 5 s shutdown, or pods are killed mid-request: raise terminationGracePeriodSeconds or lower preStop.sleepSeconds" .Values.terminationGracePeriodSeconds .Values.preStop.sleepSeconds) -}}
{{- end -}}

{{- $chartEnv := concat $owned $secret (list "DB_PASSWORD" "REDIS_PASSWORD") -}}
{{- $errors = concat $errors (include "clipper-common.extraEnvErrors" (dict "env" .Values.extraEnv "owned" $chartEnv "prefixes" (list "DB_" "REDIS_") "fix" "use containerPort, exports.mountPath, database.*, redis.* or the app secrets (secrets.*, externalSecret) instead") | fromJsonArray) -}}
{{- $p := .Values.exports.persistence -}}
{{- if and $p.enabled (not $p.existingClaim) (ne $p.accessMode "ReadWriteMany") $multi -}}
{{- $errors = append $errors (printf "exports.persistence.enabled with accessMode %s but more than one backend pod can run (%s): a %s volume attaches to one node only, so pods elsewhere would hang in ContainerCreating (Multi-Attach). Set exports.persistence.accessMode=ReadWriteMany (with a storage class that supports it), use exports.persistence.existingClaim, or run one replica" $p.accessMode $replicas $p.accessMode) -}}
{{- end -}}
{{- range .Values.extraVolumes -}}
{{- if has .name (list "exports" "tmp" "migrations") -}}
{{- $errors = append $errors (printf "extraVolumes entry %q clashes with a volume of the chart (exports, tmp, migrations): rename it" .name) -}}
{{- end -}}
{{- end -}}
{{- range .Values.extraVolumeMounts -}}
{{- if has (trimSuffix "/" .mountPath) (list "/tmp" (trimSuffix "/" $.Values.exports.mountPath)) -}}
{{- $errors = append $errors (printf "extraVolumeMounts entry %q mounts at %s, where the chart already mounts a volume: choose another mountPath" .name .mountPath) -}}
{{- end -}}
{{- end -}}
{{- range (concat .Values.sidecars .Values.initContainers) -}}
{{- if has .name (list "backend" "wait-for-dependencies" "copy-migrations" "migrate") -}}
{{- $errors = append $errors (printf "sidecars/initContainers entry %q clashes with a container of the chart (backend, wait-for-dependencies, copy-migrations, migrate): rename it" .name) -}}
{{- end -}}
{{- end -}}

{{- if .Values.migrations.enabled -}}
{{- $src := .Values.migrations.source -}}
{{- if and $src.configMap $src.image.repository -}}
{{- $errors = append $errors "migrations.source.configMap and migrations.source.image.repository are both set: choose one source of migration files" -}}
{{- end -}}
{{- if and (not (or $src.configMap $src.image.repository)) (hasSuffix "migrate/migrate" .Values.migrations.image.repository) -}}
{{- $errors = append $errors "migrations.enabled is true but no migrations are configured: the stock migrations.image (migrate/migrate) holds none. Set migrations.image to an image that holds them at migrations.source.path (images/migrations/Containerfile builds one), or set migrations.source.image.repository (+ tag and path) or migrations.source.configMap (a ConfigMap of *.up.sql/*.down.sql files), or set migrations.enabled=false" -}}
{{- end -}}
{{- if and $src.image.repository (eq (trimSuffix "/" $src.path) "/run/migrations") -}}
{{- $errors = append $errors "migrations.source.path is /run/migrations, where the chart mounts the copy of the migrations: the copy would overwrite its own source. Set migrations.source.path to the folder inside migrations.source.image that holds them" -}}
{{- end -}}
{{- if not (or .Values.migrations.initContainer .Values.migrations.hookJob) -}}
{{- $errors = append $errors "migrations.enabled is true but migrations.initContainer and migrations.hookJob are both false: nothing would run them. Enable one (initContainer guarantees the order on the first install), or set migrations.enabled=false" -}}
{{- end -}}
{{- end -}}

{{- if .Values.ingress.enabled -}}
{{- if not (include "backend.host" .) -}}
{{- if not .Values.ingress.hosts -}}
{{- $errors = append $errors "ingress.enabled is true but no host is set: set host (or global.host) or ingress.hosts" -}}
{{- end -}}
{{- end -}}
{{- range .Values.ingress.paths -}}
{{- if or (eq . "/") (hasPrefix "/debug" .) -}}
{{- $errors = append $errors (printf "ingress.paths contains %q, which would expose /debug (metrics, pprof) to the internet: list only the backend routes (/api, /health, /sitemap.xml, /robots.txt, /clips/...)" .) -}}
{{- end -}}
{{- end -}}
{{- range $i, $tls := .Values.ingress.tls -}}
{{- if not $tls.secretName -}}
{{- $errors = append $errors (printf "ingress.tls[%d].secretName is empty: name the Secret cert-manager should write the certificate to (or leave ingress.tls empty for the default <fullname>-tls)" $i) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $uid := .Values.podSecurityContext.runAsUser -}}
{{- if hasKey .Values.securityContext "runAsUser" }}{{ $uid = .Values.securityContext.runAsUser }}{{ end -}}
{{- if and (regexMatch "(^|/)subculture-collective/clipper/backend$" .Values.image.repository) (ne (toString $uid) "0") -}}
{{- $errors = append $errors (printf "image.repository is %s, the published backend image, which keeps its binary in /root and runs as root: as uid %v it cannot start (exec /root/api: permission denied). Build the non-root image (images/backend/Containerfile in the chart repository), push it and set image.repository and image.tag to it. Only outside Pod Security \"restricted\", and at your own risk, may you run the published image as root instead: podSecurityContext and securityContext with runAsNonRoot=false, runAsUser=0" .Values.image.repository $uid) -}}
{{- end -}}
{{- $errors = concat $errors (include "clipper-common.networkPolicyErrors" . | fromJsonArray) -}}
{{- include "clipper-common.failOnErrors" (dict "chart" .Chart.Name "errors" $errors) -}}
{{- end -}}
