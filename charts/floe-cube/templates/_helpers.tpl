{{- define "floe-cube.fullname" -}}
{{- printf "%s-cube" .Release.Name | trunc 45 | trimSuffix "-" -}}
{{- end -}}

{{- define "floe-cube.labels" -}}
app.kubernetes.io/name: floe-cube
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: floe
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "floe-cube.selector" -}}
app.kubernetes.io/name: floe-cube
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "floe-cube.image" -}}
{{- if .digest -}}
{{ printf "%s:%s@%s" .repository .tag .digest }}
{{- else -}}
{{ printf "%s:%s" .repository .tag }}
{{- end -}}
{{- end -}}

{{- define "floe-cube.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.podSecurity.uid }}
runAsGroup: {{ .Values.podSecurity.uid }}
fsGroup: {{ .Values.podSecurity.uid }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "floe-cube.securityContext" -}}
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

{{- define "floe-cube.podSpecCommon" -}}
automountServiceAccountToken: false
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- range . }}
  - name: {{ . }}
  {{- end }}
{{- end }}
securityContext:
  {{- include "floe-cube.podSecurityContext" . | nindent 2 }}
{{- end -}}

{{/* Environment of the API and the refresh worker: the warehouse, the model, Cube Store. */}}
{{- define "floe-cube.cubeEnv" -}}
- name: CUBEJS_DB_TYPE
  value: {{ .Values.database.type | quote }}
{{- range $key, $value := .Values.database.settings }}
- name: {{ $key }}
  value: {{ $value | quote }}
{{- end }}
- name: CUBEJS_SCHEMA_PATH
  value: model
- name: CUBEJS_DEV_MODE
  value: "false"
- name: CUBEJS_TELEMETRY
  value: "false"
- name: CUBEJS_API_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ required "apiSecret.secretName is required: the Secret holding CUBEJS_API_SECRET" .Values.apiSecret.secretName }}
      key: {{ .Values.apiSecret.key }}
{{- with .Values.database.passwordSecret }}
{{- if .name }}
- name: CUBEJS_DB_PASS
  valueFrom:
    secretKeyRef:
      name: {{ .name }}
      key: {{ .key }}
{{- end }}
{{- end }}
{{- with .Values.database.preAggregationsSchema }}
- name: CUBEJS_PRE_AGGREGATIONS_SCHEMA
  value: {{ . | quote }}
{{- end }}
{{- /* Without Cube Store, pre-aggregations are tables in the database itself (external: false). */}}
- name: CUBEJS_EXTERNAL_DEFAULT
  value: {{ .Values.cubeStore.enabled | toString | quote }}
{{- if .Values.cubeStore.enabled }}
- name: CUBEJS_CUBESTORE_HOST
  value: {{ include "floe-cube.fullname" . }}-store-router
- name: CUBEJS_CUBESTORE_PORT
  value: "3030"
{{- end }}
{{- end -}}

{{- define "floe-cube.cubeEnvFrom" -}}
{{- with .Values.database.credentialsSecret }}
envFrom:
  - secretRef:
      name: {{ . }}
{{- end }}
{{- end -}}

{{- define "floe-cube.cubeStoreEnv" -}}
- name: CUBESTORE_TELEMETRY
  value: "false"
- name: CUBESTORE_DATA_DIR
  value: /cube/data
- name: CUBESTORE_META_PORT
  value: "9999"
- name: CUBESTORE_WORKER_PORT
  value: "10001"
- name: CUBESTORE_WORKERS
  value: {{ include "floe-cube.workerAddresses" . | quote }}
{{- with .Values.cubeStore.remoteDir }}
- name: CUBESTORE_REMOTE_DIR
  value: {{ . | quote }}
{{- end }}
{{- with .Values.cubeStore.s3Bucket }}
- name: CUBESTORE_S3_BUCKET
  value: {{ . | quote }}
{{- end }}
{{- with .Values.cubeStore.s3Region }}
- name: CUBESTORE_S3_REGION
  value: {{ . | quote }}
{{- end }}
{{- with .Values.cubeStore.s3SubPath }}
- name: CUBESTORE_S3_SUB_PATH
  value: {{ . | quote }}
{{- end }}
{{- end -}}

{{- define "floe-cube.workerAddresses" -}}
{{- $name := include "floe-cube.fullname" . -}}
{{- $addresses := list -}}
{{- range $i := until (int .Values.cubeStore.workers) -}}
{{- $addresses = append $addresses (printf "%s-store-worker-%d.%s-store-workers:10001" $name $i $name) -}}
{{- end -}}
{{- join "," $addresses -}}
{{- end -}}
