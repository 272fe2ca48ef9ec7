{{/* Names and labels. Object names derive from the release, never a fixed host name. */}}
{{- define "floe-jobs.fullname" -}}
{{- printf "%s-floe" .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}

{{- define "floe-jobs.labels" -}}
app.kubernetes.io/name: floe-jobs
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: floe
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "floe-jobs.image" -}}
{{- $image := . -}}
{{- if $image.digest -}}
{{ printf "%s:%s@%s" $image.repository $image.tag $image.digest }}
{{- else -}}
{{ printf "%s:%s" $image.repository $image.tag }}
{{- end -}}
{{- end -}}

{{/* Pod and container security contexts: one UID everywhere, nothing writable but volumes. */}}
{{- define "floe-jobs.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.podSecurity.uid }}
runAsGroup: {{ .Values.podSecurity.uid }}
fsGroup: {{ .Values.podSecurity.uid }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "floe-jobs.securityContext" -}}
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

{{- define "floe-jobs.env" -}}
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
{{- define "floe-jobs.stageContainer" -}}
- name: stage-floe-state
  image: {{ include "floe-jobs.image" .Values.image }}
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
    {{- include "floe-jobs.securityContext" . | nindent 4 }}
  resources:
    requests: {cpu: 100m, memory: 128Mi}
    limits: {cpu: 500m, memory: 256Mi}
  volumeMounts:
    - name: floe-state
      mountPath: /floe-state
    - name: floe-artifacts
      mountPath: /etc/floe/artifacts
      readOnly: true
{{- end -}}

{{- define "floe-jobs.volumes" -}}
- name: floe-artifacts
  configMap:
    name: {{ .artifactsName }}
- name: floe-state
  emptyDir:
    sizeLimit: {{ .root.Values.runPod.stateSizeLimit }}
- name: floe-run-state
  emptyDir:
    sizeLimit: {{ .root.Values.runPod.stateSizeLimit }}
- name: tmp
  emptyDir:
    sizeLimit: {{ .root.Values.runPod.tmpSizeLimit }}
{{- if .root.Values.secrets.secretName }}
- name: floe-secrets
  secret:
    secretName: {{ .root.Values.secrets.secretName }}
    {{- if .root.Values.secrets.externalSecret.enabled }}
    # The operator creates the Secret asynchronously, after its ExternalSecret: a required volume
    # makes the kubelet hold the pod until the Secret exists (bounded by activeDeadlineSeconds),
    # instead of running once without credentials.
    optional: false
    {{- else }}
    # A missing Secret must not keep pods from starting: floe names any unresolved secret_ref.
    optional: true
    {{- end }}
{{- end }}
{{- end -}}

{{- define "floe-jobs.volumeMounts" -}}
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

{{/* The pod of one pipeline Job: same image, artifacts, Secret and user as the Dagster run pods. */}}
{{- define "floe-jobs.podTemplate" -}}
{{- $root := .root -}}
metadata:
  labels:
    {{- include "floe-jobs.labels" $root | nindent 4 }}
    {{- toYaml .labels | nindent 4 }}
spec:
  restartPolicy: Never
  automountServiceAccountToken: false
  {{- with $root.Values.imagePullSecrets }}
  imagePullSecrets:
    {{- range . }}
    - name: {{ . }}
    {{- end }}
  {{- end }}
  securityContext:
    {{- include "floe-jobs.podSecurityContext" $root | nindent 4 }}
  initContainers:
    {{- include "floe-jobs.stageContainer" $root | nindent 4 }}
  containers:
    - name: {{ .job.kind }}
      image: {{ include "floe-jobs.image" $root.Values.image }}
      imagePullPolicy: {{ $root.Values.image.pullPolicy }}
      workingDir: {{ $root.Values.project.dir }}
      command:
        {{- toYaml .command | nindent 8 }}
      env:
        {{- include "floe-jobs.env" $root | nindent 8 }}
      securityContext:
        {{- include "floe-jobs.securityContext" $root | nindent 8 }}
      resources:
        {{- toYaml .resources | nindent 8 }}
      volumeMounts:
        {{- include "floe-jobs.volumeMounts" $root | nindent 8 }}
  volumes:
    {{- include "floe-jobs.volumes" (dict "root" $root "artifactsName" $root.Values.artifacts.configMapName) | nindent 4 }}
{{- end -}}
