{{- define "floe-observability.labels" -}}
app.kubernetes.io/name: floe-observability
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: floe
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "floe-observability.selector" -}}
app.kubernetes.io/name: floe-observability
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "floe-observability.image" -}}
{{- if .digest -}}{{ printf "%s:%s@%s" .repository .tag .digest }}{{- else -}}{{ printf "%s:%s" .repository .tag }}{{- end -}}
{{- end -}}

{{- define "floe-observability.securityContext" -}}
runAsNonRoot: true
runAsUser: {{ .uid }}
runAsGroup: {{ .uid }}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Pod-level settings shared by every pod; .root is the chart context, .uid the user. */}}
{{- define "floe-observability.podSpecCommon" -}}
automountServiceAccountToken: false
{{- with .root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- range . }}
  - name: {{ . }}
  {{- end }}
{{- end }}
securityContext:
  runAsNonRoot: true
  runAsUser: {{ .uid }}
  runAsGroup: {{ .uid }}
  fsGroup: {{ .uid }}
  seccompProfile:
    type: RuntimeDefault
{{- end -}}

{{/* A Deployment's metadata and selector; .component names it. */}}
{{- define "floe-observability.workloadHead" -}}
metadata:
  name: {{ .component }}
  labels:
    {{- include "floe-observability.labels" .root | nindent 4 }}
    app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "floe-observability.podLabels" -}}
{{- include "floe-observability.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}
