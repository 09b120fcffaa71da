{{/*
Image reference from an image block {repository, tag, digest}. A digest pins the image and wins
over the tag. clipper-common.imageErrors refuses a missing repository, a malformed digest and the
tag "latest" (a rollout could then change nothing it can see).
global.imageRegistry, when set, replaces the registry part of the repository.
Takes (dict "ctx" $ "image" .Values.image "key" "image").
*/}}
{{- define "clipper-common.image" -}}
{{- $img := .image -}}
{{- $repo := toString $img.repository -}}
{{- $registry := (dig "imageRegistry" "" (.ctx.Values.global | default dict)) -}}
{{- if $registry -}}
{{- $parts := splitList "/" $repo -}}
{{- if and (gt (len $parts) 1) (or (contains "." (first $parts)) (contains ":" (first $parts)) (eq (first $parts) "localhost")) -}}
{{- $repo = join "/" (rest $parts) -}}
{{- end -}}
{{- $repo = printf "%s/%s" (trimSuffix "/" $registry) $repo -}}
{{- end -}}
{{- if $img.digest -}}
{{- printf "%s@%s" $repo $img.digest -}}
{{- else -}}
{{- printf "%s:%s" $repo (toString (default .ctx.Chart.AppVersion $img.tag)) -}}
{{- end -}}
{{- end -}}

{{/*
imagePullSecrets from global.imagePullSecrets and the chart's own, without duplicates.
Takes the root context.
*/}}
{{- define "clipper-common.imagePullSecrets" -}}
{{- $names := list -}}
{{- range (concat (dig "imagePullSecrets" list (.Values.global | default dict)) (.Values.imagePullSecrets | default list)) -}}
{{- $name := . -}}
{{- if kindIs "map" . }}{{ $name = .name }}{{ end -}}
{{- if not (has $name $names) }}{{ $names = append $names $name }}{{ end -}}
{{- end -}}
{{- if $names }}
imagePullSecrets:
{{- range $names }}
  - name: {{ . }}
{{- end }}
{{- end }}
{{- end -}}
