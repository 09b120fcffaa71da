{{/*
Checks the schema cannot express, all of them on every render (see clipper-common's _validate.tpl).
Included by validate.yaml. Each message names the value and says how to fix it. The check against
the cluster's state (the existing Secret has the password's key) comes after them.
*/}}
{{- define "redis.validate" -}}
{{- $errors := list -}}
{{- $renamed := dict "auth.existingSecretPasswordKey" "auth.passwordKey" "persistence.persistentVolumeClaimRetentionPolicy" "persistence.retentionPolicy" -}}
{{- $errors = concat $errors (include "clipper-common.renamedErrors" (dict "values" .Values "renamed" $renamed) | fromJsonArray) -}}
{{- $pairs := dict "auth.existingSecret" "global.redis.existingSecret" "auth.passwordKey" "global.redis.passwordKey"
  "auth.password" "global.redis.password" "persistence.storageClassName" "global.storageClass" -}}
{{- $errors = concat $errors (include "clipper-common.globalWinsErrors" (dict "values" .Values "pairs" $pairs) | fromJsonArray) -}}
{{- $errors = concat $errors (include "clipper-common.monitoringErrors" . | fromJsonArray) -}}
{{- range $key, $image := dict "image" .Values.image "metrics.image" .Values.metrics.image -}}
{{- $errors = concat $errors (include "clipper-common.imageErrors" (dict "ctx" $ "image" $image "key" $key) | fromJsonArray) -}}
{{- end -}}
{{- $errors = concat $errors (include "clipper-common.extraEnvErrors" (dict "env" .Values.extraEnv "owned" list "fix" "") | fromJsonArray) -}}
{{- $errors = concat $errors (include "redis.memoryErrors" . | fromJsonArray) -}}
{{- if and (not .Values.auth.enabled) (not .Values.auth.allowUnauthenticated) -}}
{{- $errors = append $errors "auth.enabled is false: Redis would accept every client without a password; keep auth.enabled true, or also set auth.allowUnauthenticated=true for a throwaway cluster" -}}
{{- end -}}
{{- if and (not .Values.auth.enabled) .Values.config.protectedMode -}}
{{- $errors = append $errors "auth.enabled is false while config.protectedMode is true: Redis would refuse every client outside its pod; set config.protectedMode=false as well, or keep auth.enabled true" -}}
{{- end -}}
{{- if and (include "redis.givenPassword" .) (or .Values.auth.existingSecret (dig "redis" "existingSecret" "" (.Values.global | default dict))) -}}
{{- $errors = append $errors "auth.password (global.redis.password in the umbrella) is set together with an existing Secret (auth.existingSecret or global.redis.existingSecret): the chart would ignore the password; remove auth.password or the existing Secret" -}}
{{- end -}}
{{- $owned := dict "maxmemory" "config.maxmemory / config.maxmemoryPercent" "maxmemory-policy" "config.maxmemoryPolicy" "requirepass" "auth.*" "masterauth" "auth.*" "user" "auth.*" "aclfile" "auth.*" "rename-command" "config.disableCommands" "include" "nothing (the chart includes the password file)" "port" "service.port" "bind" "nothing (the chart binds every address)" "dir" "nothing (the chart keeps data in /data)" "protected-mode" "config.protectedMode" -}}
{{- range (splitList "\n" (toString .Values.config.extraConfig)) -}}
{{- $directive := lower (first (splitList " " (trim .))) -}}
{{- if hasKey $owned $directive -}}
{{- $errors = append $errors (printf "config.extraConfig sets %s, which the chart manages: use %s instead and remove the %s line from config.extraConfig" $directive (get $owned $directive) $directive) -}}
{{- end -}}
{{- end -}}
{{- range .Values.extraArgs -}}
{{- $directive := lower (trimPrefix "--" (first (splitList " " (trim (toString .))))) -}}
{{- if and (hasPrefix "--" (trim (toString .))) (hasKey $owned $directive) -}}
{{- $errors = append $errors (printf "extraArgs sets --%s, which the chart manages: use %s instead and remove it from extraArgs" $directive (get $owned $directive)) -}}
{{- end -}}
{{- end -}}
{{- range .Values.config.disableCommands -}}
{{- if not (regexMatch "^[A-Za-z][A-Za-z|-]*$" .) -}}
{{- $errors = append $errors (printf "config.disableCommands entry %q is not a Redis command name: use names such as FLUSHALL" .) -}}
{{- end -}}
{{- end -}}
{{- $errors = concat $errors (include "clipper-common.networkPolicyErrors" . | fromJsonArray) -}}
{{- include "clipper-common.failOnErrors" (dict "chart" .Chart.Name "errors" $errors) -}}
{{- if and .Values.auth.enabled (not (include "redis.createSecret" .)) -}}
{{- $name := include "redis.secretName" . -}}
{{- $key := include "redis.passwordKey" . -}}
{{- $existing := lookup "v1" "Secret" .Release.Namespace $name -}}
{{- if and $existing (not (hasKey ($existing.data | default dict) $key)) -}}
{{- fail (printf "Secret %s in namespace %s has no key %q: add the password under that key, or set auth.passwordKey (global.redis.passwordKey in the umbrella) to the key it uses" $name .Release.Namespace $key) -}}
{{- end -}}
{{- end -}}
{{- end -}}
