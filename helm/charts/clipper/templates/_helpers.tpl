{{/* Thin wrappers around the clipper-common library, and the site routing helpers. */}}

{{- define "clipper.name" -}}
{{- include "clipper-common.name" . -}}
{{- end -}}

{{- define "clipper.fullname" -}}
{{- include "clipper-common.fullname" . -}}
{{- end -}}

{{- define "clipper.labels" -}}
{{- include "clipper-common.labels" (dict "ctx" . "component" "site") -}}
{{- end -}}

{{- define "clipper.selectorLabels" -}}
{{- include "clipper-common.selectorLabels" (dict "ctx" . "component" "site") -}}
{{- end -}}

{{/*
Full name of a subchart of this release: its fullnameOverride, else the standard rule applied to
its nameOverride or chart name (clipper-common.siblingFullname). Takes (dict "ctx" $ "chart" "backend").
*/}}
{{- define "clipper.subchartFullname" -}}
{{- $sub := get .ctx.Values .chart | default dict -}}
{{- if $sub.fullnameOverride -}}
{{- $sub.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if $sub.nameOverride -}}
{{- include "clipper-common.releaseScopedName" (dict "release" .ctx.Release.Name "name" $sub.nameOverride) -}}
{{- else -}}
{{- include "clipper-common.siblingFullname" (dict "ctx" .ctx "chart" .chart) -}}
{{- end -}}
{{- end -}}

{{/* Service port numbers of the subcharts (HTTPRoute backendRefs need numbers). */}}
{{- define "clipper.backendPort" -}}
{{- dig "service" "port" 8080 (.Values.backend | default dict) -}}
{{- end -}}

{{- define "clipper.frontendPort" -}}
{{- dig "service" "port" 80 (.Values.frontend | default dict) -}}
{{- end -}}

{{/* The site's host names as a JSON list: ingress.hosts, or [global.host]. */}}
{{- define "clipper.hosts" -}}
{{- $hosts := .Values.ingress.hosts | default list -}}
{{- if not $hosts -}}
{{- with (dig "host" "" (.Values.global | default dict)) }}{{ $hosts = list . }}{{ end -}}
{{- end -}}
{{- toJson $hosts -}}
{{- end -}}
