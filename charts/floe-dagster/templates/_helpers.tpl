{{/* Names and labels. Object names derive from the release, never a fixed host name. */}}
{{- define "floe-dagster.fullname" -}}
{{- printf "%s-floe" .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}

{{- define "floe-dagster.labels" -}}
app.kubernetes.io/name: floe-dagster
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: floe
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "floe-dagster.image" -}}
{{- $image := . -}}
{{- if $image.digest -}}
{{ printf "%s:%s@%s" $image.repository $image.tag $image.digest }}
{{- else -}}
{{ printf "%s:%s" $image.repository $image.tag }}
{{- end -}}
{{- end -}}

{{/* Pod and container security contexts: one UID everywhere, nothing writable but volumes. */}}
{{- define "floe-dagster.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.podSecurity.uid }}
runAsGroup: {{ .Values.podSecurity.uid }}
fsGroup: {{ .Values.podSecurity.uid }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "floe-dagster.securityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.podSecurity.uid }}
runAsGroup: {{ .Values.podSecurity.uid }}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "floe-dagster.env" -}}
- name: FLOE_PROJECT_DIR
  value: {{ .Values.project.dir | quote }}
- name: FLOE_ARTIFACTS_PATH
  value: {{ printf "%s/artifacts.json" .Values.project.artifactsDir | quote }}
- name: FLOE_SECRETS_DIR
  value: {{ .Values.secrets.mountPath | quote }}
- name: HOME
  value: /tmp
- name: DBT_SEND_ANONYMOUS_USAGE_STATS
  value: "false"
{{- end -}}

{{/* Seeds the writable artifacts folder from the image, then puts artifacts.json from the ConfigMap there. */}}
{{- define "floe-dagster.stageContainer" -}}
- name: stage-floe-state
  image: {{ include "floe-dagster.image" .Values.image }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  command: ["/bin/sh", "-c"]
  args:
    - |
      set -eu
      if [ -d "$FLOE_IMAGE_ARTIFACTS" ]; then cp -R "$FLOE_IMAGE_ARTIFACTS/." /floe-state/; fi
      cp /etc/floe/artifacts/artifacts.json /floe-state/artifacts.json
  env:
    - name: FLOE_IMAGE_ARTIFACTS
      value: {{ .Values.project.artifactsDir | quote }}
  securityContext:
    {{- include "floe-dagster.securityContext" . | nindent 4 }}
  resources:
    {{- toYaml .Values.preflight.resources | nindent 4 }}
  volumeMounts:
    - name: floe-state
      mountPath: /floe-state
    - name: floe-artifacts
      mountPath: /etc/floe/artifacts
      readOnly: true
{{- end -}}

{{- define "floe-dagster.volumes" -}}
- name: floe-artifacts
  configMap:
    name: {{ .artifactsName }}
- name: floe-state
  emptyDir:
    sizeLimit: {{ .root.Values.volumes.stateSizeLimit }}
- name: floe-run-state
  emptyDir:
    sizeLimit: {{ .root.Values.volumes.stateSizeLimit }}
- name: tmp
  emptyDir:
    sizeLimit: {{ .root.Values.volumes.tmpSizeLimit }}
{{- if .root.Values.secrets.secretName }}
- name: floe-secrets
  secret:
    secretName: {{ .root.Values.secrets.secretName }}
    # A missing Secret must not keep pods from starting: floe names any unresolved secret_ref.
    optional: true
{{- end }}
{{- end -}}

{{- define "floe-dagster.volumeMounts" -}}
- name: floe-state
  mountPath: {{ .Values.project.artifactsDir }}
- name: floe-run-state
  mountPath: {{ printf "%s/.floe" .Values.project.dir }}
- name: tmp
  mountPath: /tmp
{{- if .Values.secrets.secretName }}
- name: floe-secrets
  mountPath: {{ .Values.secrets.mountPath }}
  readOnly: true
{{- end }}
{{- end -}}
