{{/*
Names the official dagster chart gives its objects, computed from floe-dagster's side the way
that chart computes them (templates/helpers/_helpers.tpl there: dagster.fullname and
dagster.postgresql.secretName), so floe's pods can mount what it creates.
*/}}
{{- define "floe-dagster.officialFullname" -}}
{{- $global := dig "global" dict (.Values.dagster | default dict) -}}
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

{{/* The Secret with key postgresql-password that the official chart's pods read DAGSTER_PG_PASSWORD from. */}}
{{- define "floe-dagster.postgresqlSecretName" -}}
{{- $global := dig "global" dict (.Values.dagster | default dict) -}}
{{- $global.postgresqlSecretName | default (printf "%s-postgresql-secret" (include "floe-dagster.officialFullname" .)) -}}
{{- end -}}
