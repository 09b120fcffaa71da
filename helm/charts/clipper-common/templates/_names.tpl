{{/*
Naming helpers. Every helper takes the chart's root context unless it says otherwise.
*/}}

{{- define "clipper-common.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Full name of an object of this release: <release>-<chart>, or the release name alone when it
already contains the chart name. fullnameOverride wins.
*/}}
{{- define "clipper-common.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- include "clipper-common.releaseScopedName" (dict "release" .Release.Name "name" (default .Chart.Name .Values.nameOverride)) -}}
{{- end -}}
{{- end -}}

{{/*
The name the standard fullname rule gives chart "name" in release "release". Used for the
sibling charts of the umbrella: the backend finds "<release>-postgres" this way.
Takes (dict "release" <string> "name" <string>).
*/}}
{{- define "clipper-common.releaseScopedName" -}}
{{- if contains .name .release -}}
{{- .release | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .release .name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/*
Full name of a sibling chart of the same release. Takes (dict "ctx" $ "chart" "postgres").
*/}}
{{- define "clipper-common.siblingFullname" -}}
{{- include "clipper-common.releaseScopedName" (dict "release" .ctx.Release.Name "name" .chart) -}}
{{- end -}}

{{- define "clipper-common.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}
