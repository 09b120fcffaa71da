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

{{/* Key of the password: global.redis.passwordKey, then auth.passwordKey, then redis-password. */}}
{{- define "redis.passwordKey" -}}
{{- $g := dig "redis" "passwordKey" "" (.Values.global | default dict) -}}
{{- coalesce $g .Values.auth.passwordKey "redis-password" -}}
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
Bytes in a Kubernetes quantity (binary Ki..Ti, decimal k..T, or plain bytes), "" for anything
else. Takes (dict "value" <quantity>); returns an integer as a string.
*/}}
{{- define "redis.quantityToBytes" -}}
{{- $q := toString .value -}}
{{- $m := regexFindAll "^([0-9]+(?:\\.[0-9]+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$" $q -1 -}}
{{- if $m -}}
{{- $num := regexReplaceAll "(Ki|Mi|Gi|Ti|k|M|G|T)$" $q "" -}}
{{- $unit := trimPrefix $num $q -}}
{{- $mult := get (dict "" 1 "Ki" 1024 "Mi" 1048576 "Gi" 1073741824 "Ti" 1099511627776 "k" 1000 "M" 1000000 "G" 1000000000 "T" 1000000000000) $unit -}}
{{- printf "%d" (int64 (floor (mulf (float64 $num) $mult))) -}}
{{- end -}}
{{- end -}}

{{/*
maxmemory in bytes: config.maxmemory when set, otherwise config.maxmemoryPercent of
resources.limits.memory (redis.memoryErrors refuses values that do not keep it below the limit).
*/}}
{{- define "redis.maxmemoryBytes" -}}
{{- $limitBytes := include "redis.quantityToBytes" (dict "value" (dig "limits" "memory" "" (.Values.resources | default dict))) | int64 -}}
{{- if .Values.config.maxmemory -}}
{{- include "redis.quantityToBytes" (dict "value" .Values.config.maxmemory) -}}
{{- else -}}
{{- printf "%d" (div (mul $limitBytes (.Values.config.maxmemoryPercent | int64)) 100) -}}
{{- end -}}
{{- end -}}

{{/* Memory settings that would let Redis grow past its limit; returns a JSON list of messages. */}}
{{- define "redis.memoryErrors" -}}
{{- $errors := list -}}
{{- $quantity := "use a number with an optional Ki, Mi, Gi, Ti, k, M, G or T suffix (e.g. 512Mi)" -}}
{{- $limit := dig "limits" "memory" "" (.Values.resources | default dict) -}}
{{- $limitBytes := include "redis.quantityToBytes" (dict "value" $limit) -}}
{{- if not $limit -}}
{{- $errors = append $errors "resources.limits.memory is not set: Redis needs a memory limit so maxmemory can stay below it; set resources.limits.memory (e.g. 512Mi)" -}}
{{- else if not $limitBytes -}}
{{- $errors = append $errors (printf "resources.limits.memory %q is not a memory quantity this chart understands: %s" (toString $limit) $quantity) -}}
{{- end -}}
{{- if .Values.config.maxmemory -}}
{{- $mm := include "redis.quantityToBytes" (dict "value" .Values.config.maxmemory) -}}
{{- if not $mm -}}
{{- $errors = append $errors (printf "config.maxmemory %q is not a memory quantity this chart understands: %s" (toString .Values.config.maxmemory) $quantity) -}}
{{- else if le ($mm | int64) 0 -}}
{{- $errors = append $errors (printf "config.maxmemory %q is zero: Redis would grow without bound; set it below resources.limits.memory (%s) or leave it empty to use config.maxmemoryPercent" (toString .Values.config.maxmemory) $limit) -}}
{{- else if and $limitBytes (ge ($mm | int64) ($limitBytes | int64)) -}}
{{- $errors = append $errors (printf "config.maxmemory %q (%d bytes) is not below resources.limits.memory %q (%d bytes): the kernel would OOM-kill Redis before it evicts; lower config.maxmemory or raise the limit" (toString .Values.config.maxmemory) ($mm | int64) (toString $limit) ($limitBytes | int64)) -}}
{{- end -}}
{{- else -}}
{{- $pct := .Values.config.maxmemoryPercent | int64 -}}
{{- if or (lt $pct 1) (gt $pct 90) -}}
{{- $errors = append $errors (printf "config.maxmemoryPercent %v is out of range: use 1-90 so maxmemory stays below resources.limits.memory" .Values.config.maxmemoryPercent) -}}
{{- end -}}
{{- end -}}
{{- toJson $errors -}}
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
