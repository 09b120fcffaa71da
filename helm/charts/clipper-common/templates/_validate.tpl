{{/*
Validation, the same way in every chart: a chart's "<chart>.validate" (in its _validate.tpl,
included by its validate.yaml) gathers the messages of every check into one list and ends with
"clipper-common.failOnErrors", so one render names every mistake. The checks here return their
messages as a JSON list, for the caller to concatenate (include ... | fromJsonArray).
*/}}

{{/* Fails once with every message, or renders nothing. Takes (dict "chart" .Chart.Name "errors" $errors). */}}
{{- define "clipper-common.failOnErrors" -}}
{{- if .errors -}}
{{- fail (printf "the values of chart %s have %d problem(s):\n- %s" .chart (len .errors) (join "\n- " .errors)) -}}
{{- end -}}
{{- end -}}

{{/* A value by its dotted path, "" when a part of the path is missing. Takes (dict "values" .Values "path" "a.b.c"). */}}
{{- define "clipper-common.valueAt" -}}
{{- $v := .values -}}
{{- range splitList "." .path -}}
{{- if kindIs "map" $v }}{{ $v = get $v . }}{{ else }}{{ $v = "" }}{{ end -}}
{{- end -}}
{{- if kindIs "string" $v }}{{ $v }}{{ else if not (kindIs "invalid" $v) }}{{ toJson $v }}{{ end -}}
{{- end -}}

{{/*
Keys renamed in a release: a value under the old name would be ignored, so it is refused with the
new name. Takes (dict "values" .Values "renamed" (dict "old.path" "new.path" ...)).
*/}}
{{- define "clipper-common.renamedErrors" -}}
{{- $errors := list -}}
{{- range $old, $new := .renamed -}}
{{- with include "clipper-common.valueAt" (dict "values" $.values "path" $old) -}}
{{- $errors = append $errors (printf "%s was renamed to %s: move the value (%s) there" $old $new .) -}}
{{- end -}}
{{- end -}}
{{- toJson $errors -}}
{{- end -}}

{{/*
The one precedence rule: a non-empty global.* wins over the chart's own value. A chart value that
differs from the global that replaces it would be silently ignored, so it is refused (a password
is never echoed). Takes (dict "values" .Values "pairs" (dict "own.path" "global.path" ...)).
*/}}
{{- define "clipper-common.globalWinsErrors" -}}
{{- $errors := list -}}
{{- range $ownPath, $globalPath := .pairs -}}
{{- $own := include "clipper-common.valueAt" (dict "values" $.values "path" $ownPath) -}}
{{- $global := include "clipper-common.valueAt" (dict "values" $.values "path" $globalPath) -}}
{{- if and $own $global (ne $own $global) -}}
{{- if hasSuffix "password" $ownPath -}}
{{- $errors = append $errors (printf "%s has no effect: %s wins; remove %s, or give the password as %s instead" $ownPath $globalPath $ownPath $globalPath) -}}
{{- else -}}
{{- $errors = append $errors (printf "%s (%s) has no effect: %s (%s) wins; remove %s, or set %s=%s instead" $ownPath $own $globalPath $global $ownPath $globalPath $own) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- toJson $errors -}}
{{- end -}}

{{/* An image block {repository, tag, digest}. Takes (dict "ctx" $ "image" .Values.image "key" "image"). */}}
{{- define "clipper-common.imageErrors" -}}
{{- $errors := list -}}
{{- $img := .image -}}
{{- if not $img.repository -}}
{{- $errors = append $errors (printf "%s.repository is required: set it to the image repository, e.g. --set %s.repository=ghcr.io/org/app" .key .key) -}}
{{- end -}}
{{- if $img.digest -}}
{{- if not (regexMatch "^sha256:[a-f0-9]{64}$" $img.digest) -}}
{{- $errors = append $errors (printf "%s.digest %q is not a sha256 digest: use the form sha256:<64 hex characters>, or leave it empty and set %s.tag" .key $img.digest .key) -}}
{{- end -}}
{{- else -}}
{{- $tag := toString (default .ctx.Chart.AppVersion $img.tag) -}}
{{- if or (eq $tag "latest") (eq $tag "") -}}
{{- $errors = append $errors (printf "%s.tag %q does not pin a release: set %s.tag to a version (e.g. 1.4.2) or %s.digest to a sha256 digest" .key $tag .key .key) -}}
{{- end -}}
{{- end -}}
{{- toJson $errors -}}
{{- end -}}

{{/*
extraEnv adds variables: a name listed twice (server-side apply rejects it) or one the chart sets
itself is refused. Takes (dict "env" .Values.extraEnv "owned" (list ...) "fix" "what to use instead"),
optionally "prefixes" (list "DB_" ...) for whole families of names the chart owns.
*/}}
{{- define "clipper-common.extraEnvErrors" -}}
{{- $errors := list -}}
{{- $names := list -}}
{{- range .env -}}
{{- if has .name $names -}}
{{- $errors = append $errors (printf "extraEnv lists %q twice: Kubernetes rejects duplicate env names on server-side apply; keep one entry" .name) -}}
{{- else if or (has .name $.owned) (include "clipper-common.hasAnyPrefix" (dict "s" .name "prefixes" $.prefixes)) -}}
{{- $errors = append $errors (printf "extraEnv sets %s, which the chart sets itself: %s, and remove the extraEnv entry" .name $.fix) -}}
{{- end -}}
{{- $names = append $names .name -}}
{{- end -}}
{{- toJson $errors -}}
{{- end -}}

{{/* "true" when .s starts with one of .prefixes. */}}
{{- define "clipper-common.hasAnyPrefix" -}}
{{- range .prefixes | default list -}}{{- if hasPrefix . $.s -}}true{{- end -}}{{- end -}}
{{- end -}}

{{/* HPA and PDB settings the schema cannot relate to each other. Takes the root context. */}}
{{- define "clipper-common.scalingErrors" -}}
{{- $errors := list -}}
{{- $a := .Values.autoscaling | default dict -}}
{{- if $a.enabled -}}
{{- if gt (int $a.minReplicas) (int $a.maxReplicas) -}}
{{- $errors = append $errors (printf "autoscaling.minReplicas (%v) is greater than autoscaling.maxReplicas (%v): lower minReplicas or raise maxReplicas" $a.minReplicas $a.maxReplicas) -}}
{{- end -}}
{{- if not (or $a.targetCPUUtilizationPercentage $a.targetMemoryUtilizationPercentage) -}}
{{- $errors = append $errors "autoscaling.enabled is true but neither autoscaling.targetCPUUtilizationPercentage nor autoscaling.targetMemoryUtilizationPercentage is set: set at least one target" -}}
{{- else if not (dig "requests" dict (.Values.resources | default dict)) -}}
{{- $errors = append $errors "autoscaling targets are percentages of resources.requests, which is empty: set resources.requests.cpu and resources.requests.memory" -}}
{{- end -}}
{{- end -}}
{{- $pdb := .Values.podDisruptionBudget | default dict -}}
{{- if $pdb.enabled -}}
{{- $replicas := int (ternary (dig "minReplicas" 1 $a) .Values.replicaCount (dig "enabled" false $a)) -}}
{{- if and (not (kindIs "string" $pdb.minAvailable)) (ge (int $pdb.minAvailable) $replicas) -}}
{{- $errors = append $errors (printf "podDisruptionBudget.minAvailable (%v) must be lower than the replica count (%v) or node drains block forever: raise the replicas or lower minAvailable" $pdb.minAvailable $replicas) -}}
{{- end -}}
{{- if and (kindIs "string" $pdb.minAvailable) (hasSuffix "%" $pdb.minAvailable) (ge (atoi (trimSuffix "%" $pdb.minAvailable)) 100) -}}
{{- $errors = append $errors (printf "podDisruptionBudget.minAvailable (%s) keeps every pod up, so node drains block forever: use a lower percentage (e.g. 50%%) or a number below the replica count" $pdb.minAvailable) -}}
{{- end -}}
{{- end -}}
{{- toJson $errors -}}
{{- end -}}
