{{/* Thin wrappers around the clipper-common library. */}}
{{- define "redis.name" -}}
{{- include "clipper-common.name" . -}}
{{- end -}}

{{- define "redis.fullname" -}}
{{- include "clipper-common.fullname" . -}}
{{- end -}}

{{/* Takes (dict "ctx" $ "component" "server"). */}}
{{- define "redis.labels" -}}
{{- include "clipper-common.labels" . -}}
{{- end -}}

{{/* Takes (dict "ctx" $ "component" "server"). */}}
{{- define "redis.selectorLabels" -}}
{{- include "clipper-common.selectorLabels" . -}}
{{- end -}}

{{- define "redis.serviceAccountName" -}}
{{- include "clipper-common.serviceAccountName" . -}}
{{- end -}}

{{/*
The Secret holding the password: global.redis.existingSecret, then auth.existingSecret, then the
chart's own Secret (<fullname>). The backend resolves the same order, so both read one Secret.
*/}}
{{- define "redis.secretName" -}}
{{- $g := tpl (dig "redis" "existingSecret" "" (.Values.global | default dict) | toString) . -}}
{{- coalesce $g .Values.auth.existingSecret (include "redis.fullname" .) -}}
{{- end -}}

{{/* Key of the password: global.redis.passwordKey, then auth.existingSecretPasswordKey. */}}
{{- define "redis.passwordKey" -}}
{{- $g := dig "redis" "passwordKey" "" (.Values.global | default dict) -}}
{{- coalesce $g .Values.auth.existingSecretPasswordKey "redis-password" -}}
{{- end -}}

{{/* The password given in values: global.redis.password (umbrella), then auth.password. */}}
{{- define "redis.givenPassword" -}}
{{- dig "redis" "password" "" (.Values.global | default dict) | default .Values.auth.password | default "" | toString -}}
{{- end -}}

{{/* True ("true") when the chart must create the Secret itself. */}}
{{- define "redis.createSecret" -}}
{{- $g := tpl (dig "redis" "existingSecret" "" (.Values.global | default dict) | toString) . -}}
{{- if and .Values.auth.enabled (not $g) (not .Values.auth.existingSecret) -}}true{{- end -}}
{{- end -}}

{{/*
Bytes in a Kubernetes quantity (binary Ki..Ti, decimal k..T, or plain bytes). Fails on anything
else. Takes (dict "key" "<value path>" "value" <quantity>); returns an integer as a string.
*/}}
{{- define "redis.quantityToBytes" -}}
{{- $q := toString .value -}}
{{- $m := regexFindAll "^([0-9]+(?:\\.[0-9]+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$" $q -1 -}}
{{- if not $m -}}
{{- fail (printf "%s %q is not a memory quantity this chart understands: use a number with an optional Ki, Mi, Gi, Ti, k, M, G or T suffix (e.g. 512Mi)" .key $q) -}}
{{- end -}}
{{- $num := regexReplaceAll "(Ki|Mi|Gi|Ti|k|M|G|T)$" $q "" -}}
{{- $unit := trimPrefix $num $q -}}
{{- $mult := get (dict "" 1 "Ki" 1024 "Mi" 1048576 "Gi" 1073741824 "Ti" 1099511627776 "k" 1000 "M" 1000000 "G" 1000000000 "T" 1000000000000) $unit -}}
{{- printf "%d" (int64 (floor (mulf (float64 $num) $mult))) -}}
{{- end -}}

{{/*
maxmemory in bytes: config.maxmemory when set (must be below the memory limit), otherwise
config.maxmemoryPercent of resources.limits.memory.
*/}}
{{- define "redis.maxmemoryBytes" -}}
{{- $limit := dig "limits" "memory" "" (.Values.resources | default dict) -}}
{{- if not $limit -}}
{{- fail "resources.limits.memory is not set: Redis needs a memory limit so maxmemory can stay below it; set resources.limits.memory (e.g. 512Mi)" -}}
{{- end -}}
{{- $limitBytes := include "redis.quantityToBytes" (dict "key" "resources.limits.memory" "value" $limit) | int64 -}}
{{- if .Values.config.maxmemory -}}
{{- $mm := include "redis.quantityToBytes" (dict "key" "config.maxmemory" "value" .Values.config.maxmemory) | int64 -}}
{{- if le $mm 0 -}}
{{- fail (printf "config.maxmemory %q is zero: Redis would grow without bound; set it below resources.limits.memory (%s) or leave it empty to use config.maxmemoryPercent" (toString .Values.config.maxmemory) $limit) -}}
{{- end -}}
{{- if ge $mm $limitBytes -}}
{{- fail (printf "config.maxmemory %q (%d bytes) is not below resources.limits.memory %q (%d bytes): the kernel would OOM-kill Redis before it evicts; lower config.maxmemory or raise the limit" (toString .Values.config.maxmemory) $mm (toString $limit) $limitBytes) -}}
{{- end -}}
{{- printf "%d" $mm -}}
{{- else -}}
{{- $pct := .Values.config.maxmemoryPercent | int64 -}}
{{- if or (lt $pct 1) (gt $pct 90) -}}
{{- fail (printf "config.maxmemoryPercent %v is out of range: use 1-90 so maxmemory stays below resources.limits.memory" .Values.config.maxmemoryPercent) -}}
{{- end -}}
{{- printf "%d" (div (mul $limitBytes $pct) 100) -}}
{{- end -}}
{{- end -}}

{{/* Checks the schema cannot express. Takes the root context. */}}
{{- define "redis.validate" -}}
{{- with (include "clipper-common.validateMonitoring" . | trim) -}}
{{- fail . -}}
{{- end -}}
{{- if and (not .Values.auth.enabled) (not .Values.auth.allowUnauthenticated) -}}
{{- fail "auth.enabled is false: Redis would accept every client without a password; keep auth.enabled true, or also set auth.allowUnauthenticated=true for a throwaway cluster" -}}
{{- end -}}
{{- if and (not .Values.auth.enabled) .Values.config.protectedMode -}}
{{- fail "auth.enabled is false while config.protectedMode is true: Redis would refuse every client outside its pod; set config.protectedMode=false as well, or keep auth.enabled true" -}}
{{- end -}}
{{- if and (include "redis.givenPassword" .) (or .Values.auth.existingSecret (dig "redis" "existingSecret" "" (.Values.global | default dict))) -}}
{{- fail "auth.password (global.redis.password in the umbrella) is set together with an existing Secret (auth.existingSecret or global.redis.existingSecret): the chart would ignore the password; remove auth.password or the existing Secret" -}}
{{- end -}}
{{- $owned := dict "maxmemory" "config.maxmemory / config.maxmemoryPercent" "maxmemory-policy" "config.maxmemoryPolicy" "requirepass" "auth.*" "masterauth" "auth.*" "user" "auth.*" "aclfile" "auth.*" "rename-command" "config.disableCommands" "include" "nothing (the chart includes the password file)" "port" "service.port" "bind" "nothing (the chart binds every address)" "dir" "nothing (the chart keeps data in /data)" "protected-mode" "config.protectedMode" -}}
{{- range (splitList "\n" (toString .Values.config.extraConfig)) -}}
{{- $directive := lower (first (splitList " " (trim .))) -}}
{{- if hasKey $owned $directive -}}
{{- fail (printf "config.extraConfig sets %s, which the chart manages: use %s instead and remove the %s line from config.extraConfig" $directive (get $owned $directive) $directive) -}}
{{- end -}}
{{- end -}}
{{- range .Values.extraArgs -}}
{{- $directive := lower (trimPrefix "--" (first (splitList " " (trim (toString .))))) -}}
{{- if and (hasPrefix "--" (trim (toString .))) (hasKey $owned $directive) -}}
{{- fail (printf "extraArgs sets --%s, which the chart manages: use %s instead and remove it from extraArgs" $directive (get $owned $directive)) -}}
{{- end -}}
{{- end -}}
{{- range .Values.config.disableCommands -}}
{{- if not (regexMatch "^[A-Za-z][A-Za-z|-]*$" .) -}}
{{- fail (printf "config.disableCommands entry %q is not a Redis command name: use names such as FLUSHALL" .) -}}
{{- end -}}
{{- end -}}
{{- if and .Values.auth.enabled (not (include "redis.createSecret" .)) -}}
{{- $name := include "redis.secretName" . -}}
{{- $key := include "redis.passwordKey" . -}}
{{- $existing := lookup "v1" "Secret" .Release.Namespace $name -}}
{{- if and $existing (not (hasKey ($existing.data | default dict) $key)) -}}
{{- fail (printf "Secret %s in namespace %s has no key %q: add the password under that key, or set auth.existingSecretPasswordKey (global.redis.passwordKey in the umbrella) to the key it uses" $name .Release.Namespace $key) -}}
{{- end -}}
{{- end -}}
{{- $_ := include "redis.maxmemoryBytes" . -}}
{{- end -}}

{{/*
The password stored in the chart-made Secret (base64): auth.password, else the value the Secret
already holds (lookup), else a new random one. A generated password is never rotated: when the
Secret exists without the key the chart fails instead. The result is memoised for this render so
the Secret and the pod's checksum/secret agree.
*/}}
{{- define "redis.secretPasswordB64" -}}
{{- if not (hasKey .Values.auth "__passwordB64") -}}
{{- $key := include "redis.passwordKey" . -}}
{{- $name := include "redis.fullname" . -}}
{{- $existing := lookup "v1" "Secret" .Release.Namespace $name -}}
{{- $value := "" -}}
{{- $given := include "redis.givenPassword" . -}}
{{- if $given -}}
{{- $value = $given | b64enc -}}
{{- else if $existing -}}
{{- $data := $existing.data | default dict -}}
{{- if not (hasKey $data $key) -}}
{{- fail (printf "Secret %s exists but has no key %q, so the chart cannot reuse the password without rotating it: add the key with the current password (kubectl -n %s edit secret %s) or set auth.password" $name $key .Release.Namespace $name) -}}
{{- end -}}
{{- $value = get $data $key -}}
{{- else if not .Values.auth.generate -}}
{{- fail (printf "auth.generate is false and no password is given, and Secret %s does not exist (or cannot be read: helm template has no cluster access): set auth.password (global.redis.password in the umbrella) or auth.existingSecret, or set auth.generate=true" $name) -}}
{{- else -}}
{{- $value = randAlphaNum 32 | b64enc -}}
{{- end -}}
{{- $_ := set .Values.auth "__passwordB64" $value -}}
{{- end -}}
{{- get .Values.auth "__passwordB64" -}}
{{- end -}}

{{/* Checksum of what the pod reads from the Secret: its name, key and (if chart-made) content. */}}
{{- define "redis.secretChecksum" -}}
{{- $parts := list (include "redis.secretName" .) (include "redis.passwordKey" .) (toString .Values.auth.enabled) -}}
{{- if include "redis.createSecret" . -}}
{{- $parts = append $parts (include "redis.secretPasswordB64" .) -}}
{{- end -}}
{{- join "/" $parts | sha256sum -}}
{{- end -}}

{{/* Name of the volume behind /data. */}}
{{- define "redis.dataVolume" -}}data{{- end -}}
