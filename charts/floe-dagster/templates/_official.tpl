{{/*
The name the official dagster chart gives its objects, computed the way that chart does
(dagster.fullname in its helpers), so floe's pods can mount what it creates. floe reads only
Helm's shared `global:` values: inside floe-runtime floe-dagster cannot see the official chart's
own block (`dagster:` there is floe-dagster's disabled copy). Set global.fullnameOverride /
global.nameOverride at the top level (Helm passes globals to every subchart), or name the
ConfigMap in monitoring.exporter.instanceConfigMap.
*/}}
{{- define "floe-dagster.officialFullname" -}}
{{- $global := .Values.global | default dict -}}
{{- if $global.fullnameOverride -}}
{{- $global.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default "dagster" $global.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}
