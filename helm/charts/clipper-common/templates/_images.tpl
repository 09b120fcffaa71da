{{/*
Image reference from an image block {repository, tag, digest}. A digest pins the image and wins
over the tag; "latest" is refused because a rollout could then change nothing it can see.
global.imageRegistry, when set, replaces the registry part of the repository.
Takes (dict "ctx" $ "image" .Values.image "key" "image").
*/}}
{{- define "clipper-common.image" -}}
{{- $img := .image -}}
{{- $repo := required (printf "%s.repository is required: set it to the image repository, e.g. --set %s.repository=ghcr.io/org/app" .key .key) $img.repository -}}
{{- $registry := (dig "imageRegistry" "" (.ctx.Values.global | default dict)) -}}
{{- if $registry -}}
{{- $parts := splitList "/" $repo -}}
{{- if and (gt (len $parts) 1) (or (contains "." (first $parts)) (contains ":" (first $parts)) (eq (first $parts) "localhost")) -}}
{{- $repo = join "/" (rest $parts) -}}
{{- end -}}
{{- $repo = printf "%s/%s" (trimSuffix "/" $registry) $repo -}}
{{- end -}}
{{- if $img.digest -}}
{{- if not (regexMatch "^sha256:[a-f0-9]{64}$" $img.digest) -}}
{{- fail (printf "%s.digest %q is not a sha256 digest: use the form sha256:<64 hex characters>, or leave it empty and set %s.tag" .key $img.digest .key) -}}
{{- end -}}
{{- printf "%s@%s" $repo $img.digest -}}
{{- else -}}
{{- $tag := toString (default .ctx.Chart.AppVersion $img.tag) -}}
{{- if or (eq $tag "latest") (eq $tag "") -}}
{{- fail (printf "%s.tag %q does not pin a release: set %s.tag to a version (e.g. 1.4.2) or %s.digest to a sha256 digest" .key $tag .key .key) -}}
{{- end -}}
{{- printf "%s:%s" $repo $tag -}}
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
