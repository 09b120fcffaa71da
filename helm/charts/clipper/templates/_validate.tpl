{{/*
Cross-chart checks that no subchart can make alone, all of them on every render (see
clipper-common's _validate.tpl). Included by validate.yaml; renders nothing. Each message names the
values and the fix.
*/}}
{{- define "clipper.validate" -}}
{{- $errors := list -}}
{{- $b := .Values.backend | default dict -}}
{{- $pg := .Values.postgres | default dict -}}
{{- $rd := .Values.redis | default dict -}}
{{- $global := .Values.global | default dict -}}
{{- /* The site's routes. */ -}}
{{- if or .Values.ingress.enabled .Values.httpRoute.enabled -}}
{{- if not (include "clipper.hosts" . | fromJsonArray) -}}
{{- $errors = append $errors "the site has no host: set global.host (e.g. clpr.tv) or ingress.hosts, or disable ingress.enabled and httpRoute.enabled" -}}
{{- end -}}
{{- range .Values.ingress.backendPaths -}}
{{- if or (eq .path "/") (hasPrefix "/debug" .path) -}}
{{- $errors = append $errors (printf "ingress.backendPaths contains %q, which would expose /debug (metrics, pprof) of the backend to the internet: route only the public backend paths (/api, /health, ...)" .path) -}}
{{- end -}}
{{- end -}}
{{- if and .Values.ingress.enabled .Values.httpRoute.enabled (not .Values.httpRoute.allowWithIngress) -}}
{{- $errors = append $errors "ingress.enabled and httpRoute.enabled are both true: two routes would serve the same host; pick one, or set httpRoute.allowWithIngress=true while migrating" -}}
{{- end -}}
{{- end -}}
{{- if and .Values.httpRoute.enabled (not .Values.httpRoute.parentRefs) -}}
{{- $errors = append $errors "httpRoute.enabled is true but httpRoute.parentRefs is empty: name the Gateway (and listener sectionName) the route attaches to" -}}
{{- end -}}
{{- if .Values.ingress.enabled -}}
{{- $ing := .Values.ingress -}}
{{- if not $b.enabled -}}
{{- $errors = append $errors "ingress.enabled is true but backend.enabled is false: the site Ingress sends /api and the other backend paths to the backend; enable the backend or disable ingress.enabled" -}}
{{- end -}}
{{- if not (.Values.frontend | default dict).enabled -}}
{{- $errors = append $errors "ingress.enabled is true but frontend.enabled is false: the site Ingress sends / to the frontend; enable the frontend or disable ingress.enabled" -}}
{{- end -}}
{{- range $i, $t := $ing.tls -}}
{{- if not $t.secretName -}}
{{- $errors = append $errors (printf "ingress.tls[%d] has no secretName: name the Secret cert-manager writes the certificate to (e.g. clipper-tls), or remove the entry to serve plain HTTP" $i) -}}
{{- end -}}
{{- end -}}
{{- $cm := $ing.certManager -}}
{{- if and (not $ing.tls) $cm.enabled (not $ing.allowPlainHTTP) -}}
{{- $errors = append $errors "ingress.tls is empty while ingress.certManager.enabled is true: cert-manager would issue nothing and the site would be served over plain HTTP; add a tls entry (e.g. --set ingress.tls[0].secretName=clipper-tls), or set ingress.allowPlainHTTP=true to serve plain HTTP on purpose" -}}
{{- end -}}
{{- if and $ing.tls $cm.enabled (not $cm.issuer) -}}
{{- $errors = append $errors "ingress.tls is set and ingress.certManager.enabled is true but ingress.certManager.issuer is empty: name the issuer (e.g. letsencrypt-prod), or set ingress.certManager.enabled=false when the TLS Secret is provided another way" -}}
{{- end -}}
{{- end -}}
{{- if $b.enabled }}
  {{- /* Connection budget: 25 pooled connections per backend pod, for the most pods that can run at
       once (the HPA maximum or replicaCount, plus the rolling update's surge pod), 10 for the
       migrations Job, backups, the exporter and admins, and PostgreSQL's 3 superuser slots. */ -}}
  {{- if $pg.enabled }}
    {{- $autoscaling := $b.autoscaling | default dict -}}
    {{- $pods := int (ternary $autoscaling.maxReplicas $b.replicaCount (eq (toString $autoscaling.enabled) "true")) -}}
    {{- $source := ternary "backend.autoscaling.maxReplicas" "backend.replicaCount" (eq (toString $autoscaling.enabled) "true") -}}
    {{- $surge := 1 -}}
    {{- $need := add (mul (add $pods $surge) 25) 10 3 -}}
    {{- $have := int (dig "config" "maxConnections" 0 $pg) -}}
    {{- if lt $have $need -}}
      {{- $errors = append $errors (printf "postgres.config.maxConnections (%d) is too low for %s (%d): each backend pod opens 25 connections and a rolling update adds %d surge pod, so PostgreSQL needs at least (%d + %d) x 25 + 10 headroom + 3 superuser_reserved_connections = %d; raise postgres.config.maxConnections to %d or more, or lower %s" $have $source $pods $surge $pods $surge $need $need $source) -}}
    {{- end -}}
  {{- else if not (dig "database" "host" "" $b) -}}
    {{- $errors = append $errors "backend.enabled is true and postgres.enabled is false, but backend.database.host is empty: set backend.database.host to your PostgreSQL server (and global.postgres.existingSecret to the Secret holding its password), or enable postgres" -}}
  {{- end -}}
  {{- if and (not $rd.enabled) (not (dig "redis" "host" "" $b)) -}}
    {{- $errors = append $errors "backend.enabled is true and redis.enabled is false, but backend.redis.host is empty: set backend.redis.host to your Redis server (and global.redis.existingSecret to the Secret holding its password), or enable redis" -}}
  {{- end -}}
{{- end }}
{{- /* One Ingress per host: a subchart Ingress for a site host would compete for the TLS Secret. */ -}}
{{- if .Values.ingress.enabled }}
  {{- $site := include "clipper.hosts" . | fromJsonArray -}}
  {{- $globalHost := dig "host" "" (.Values.global | default dict) -}}
  {{- range $chart := list "backend" "frontend" -}}
    {{- $sub := get $.Values $chart | default dict -}}
    {{- $subIngress := $sub.ingress | default dict -}}
    {{- if and $sub.enabled $subIngress.enabled -}}
      {{- $subHosts := list -}}
      {{- range ($subIngress.hosts | default list) -}}
        {{- if kindIs "map" . }}{{ $subHosts = append $subHosts .host }}{{ else }}{{ $subHosts = append $subHosts . }}{{ end -}}
      {{- end -}}
      {{- if not $subHosts -}}
        {{- $subHosts = list (default $sub.host $globalHost) -}}
      {{- end -}}
      {{- range $subHosts -}}
        {{- if has . $site -}}
          {{- $errors = append $errors (printf "%s.ingress.enabled is true for host %s, which the site Ingress (ingress.enabled) already serves: two ingresses would compete for one TLS secret; set %s.ingress.enabled=false (the site Ingress routes %s already)" $chart . $chart $chart) -}}
        {{- end -}}
      {{- end -}}
    {{- end -}}
  {{- end -}}
{{- end }}
{{- range $chart := list "backend" "postgres" "redis" }}
  {{- $sub := get $.Values $chart | default dict -}}
  {{- if $sub.enabled -}}
    {{- range $key := list "nameOverride" "fullnameOverride" -}}
      {{- with get $sub $key -}}
        {{- $errors = append $errors (printf "%s.%s (%s) is not supported in the umbrella: the backend, PostgreSQL and Redis find each other by their default names (<release>-%s) and NetworkPolicy labels (app.kubernetes.io/name: %s), which would not follow the override; remove %s.%s and choose the release name instead (objects are named <release>-<chart>)" $chart $key . $chart $chart $chart $key) -}}
      {{- end -}}
    {{- end -}}
  {{- end -}}
{{- end }}
{{- /* One source of truth: with a bundled server, the backend and the server both read global.postgres.*
or global.redis.*; a value set on one side only would make them disagree. */ -}}
{{- $shared := dict "backend.database.user" "postgres.username" "backend.database.name" "postgres.database"
  "backend.database.existingSecret" "postgres.existingSecret" "backend.database.passwordKey" "postgres.passwordKey"
  "postgres.auth.username" "postgres.username" "postgres.auth.database" "postgres.database" "postgres.auth.password" "postgres.password"
  "postgres.auth.existingSecret" "postgres.existingSecret" "postgres.auth.passwordKey" "postgres.passwordKey"
  "backend.redis.existingSecret" "redis.existingSecret" "backend.redis.passwordKey" "redis.passwordKey"
  "redis.auth.existingSecret" "redis.existingSecret" "redis.auth.passwordKey" "redis.passwordKey" "redis.auth.password" "redis.password" -}}
{{- range $own, $path := $shared -}}
{{- $value := include "clipper-common.valueAt" (dict "values" $.Values "path" $own) -}}
{{- $charts := list (first (splitList "." $own)) (first (splitList "." $path)) -}}
{{- if and (get $.Values (index $charts 0)).enabled (get $.Values (index $charts 1)).enabled $value (ne $value (include "clipper-common.valueAt" (dict "values" $global "path" $path))) -}}
{{- $errors = append $errors (printf "%s is set in the umbrella, where the backend and the bundled server share global.%s: remove %s and set global.%s=%s instead" $own $path $own $path (ternary "<the password>" $value (hasSuffix "password" $path))) -}}
{{- end -}}
{{- end -}}
{{- /* Ports and Redis authentication: the backend connects to the Service port the server chart renders. */ -}}
{{- if $b.enabled }}
  {{- $db := $b.database | default dict -}}
  {{- $rdv := $b.redis | default dict -}}
  {{- if and $pg.enabled (not $db.host) -}}
    {{- $server := int (dig "service" "port" 5432 $pg) -}}
    {{- $client := int (dig "port" 5432 $db) -}}
    {{- if ne $server $client -}}
      {{- $errors = append $errors (printf "postgres.service.port (%d) differs from backend.database.port (%d): the backend would connect to a port the Service does not serve; set backend.database.port=%d as well (or keep both at 5432)" $server $client $server) -}}
    {{- end -}}
  {{- end -}}
  {{- if and $rd.enabled (not $rdv.host) -}}
    {{- $server := int (dig "service" "port" 6379 $rd) -}}
    {{- $client := int (dig "port" 6379 $rdv) -}}
    {{- if ne $server $client -}}
      {{- $errors = append $errors (printf "redis.service.port (%d) differs from backend.redis.port (%d): the backend would connect to a port the Service does not serve; set backend.redis.port=%d as well (or keep both at 6379)" $server $client $server) -}}
    {{- end -}}
    {{- $serverAuth := eq (toString (dig "auth" "enabled" true $rd)) "true" -}}
    {{- $clientAuth := eq (toString (dig "authEnabled" true $rdv)) "true" -}}
    {{- if and (not $serverAuth) $clientAuth -}}
      {{- $errors = append $errors "redis.auth.enabled is false but backend.redis.authEnabled is true: the backend would read REDIS_PASSWORD from a Secret the redis chart no longer makes; set backend.redis.authEnabled=false as well (or keep Redis authentication on)" -}}
    {{- end -}}
    {{- if and $serverAuth (not $clientAuth) -}}
      {{- $errors = append $errors "backend.redis.authEnabled is false but redis.auth.enabled is true: Redis would refuse the backend without a password; set backend.redis.authEnabled=true (or turn Redis authentication off with redis.auth.enabled=false)" -}}
    {{- end -}}
  {{- end -}}
{{- end }}
{{- include "clipper-common.failOnErrors" (dict "chart" .Chart.Name "errors" $errors) -}}
{{- end -}}
