{{- define "floe-polaris.name" -}}{{ .Values.service.name }}{{- end -}}

{{- define "floe-polaris.labels" -}}
app.kubernetes.io/name: floe-polaris
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: floe
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "floe-polaris.selector" -}}
app.kubernetes.io/name: floe-polaris
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "floe-polaris.image" -}}
{{- if .digest -}}{{ printf "%s:%s@%s" .repository .tag .digest }}{{- else -}}{{ printf "%s:%s" .repository .tag }}{{- end -}}
{{- end -}}

{{/* The restricted security context of every container; .uid is the user. */}}
{{- define "floe-polaris.securityContext" -}}
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

{{- define "floe-polaris.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .uid }}
runAsGroup: {{ .uid }}
fsGroup: {{ .uid }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "floe-polaris.dbHost" -}}
{{- if eq .Values.database.mode "statefulset" -}}
{{ include "floe-polaris.name" . }}-postgresql
{{- else -}}
{{ required "database.host is required with database.mode external" .Values.database.host }}
{{- end -}}
{{- end -}}

{{/* Polaris' persistence, for the server and the admin tool alike. */}}
{{- define "floe-polaris.persistenceEnv" -}}
- name: POLARIS_PERSISTENCE_TYPE
  value: relational-jdbc
- name: QUARKUS_DATASOURCE_DB_KIND
  value: postgresql
- name: QUARKUS_DATASOURCE_JDBC_URL
  value: {{ printf "jdbc:postgresql://%s:%v/%s" (include "floe-polaris.dbHost" .) .Values.database.port .Values.database.name | quote }}
- name: QUARKUS_DATASOURCE_USERNAME
  value: {{ .Values.database.user | quote }}
- name: QUARKUS_DATASOURCE_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .Values.database.passwordSecret.name }}
      key: {{ .Values.database.passwordSecret.key }}
- name: POLARIS_REALM_CONTEXT_REALMS
  value: {{ .Values.realm | quote }}
{{- end -}}

{{- define "floe-polaris.rootEnv" -}}
- name: ROOT_CLIENT_ID
  valueFrom:
    secretKeyRef:
      name: {{ .Values.rootCredentials.secretName }}
      key: {{ .Values.rootCredentials.clientIdKey }}
- name: ROOT_CLIENT_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ .Values.rootCredentials.secretName }}
      key: {{ .Values.rootCredentials.clientSecretKey }}
{{- end -}}

{{- define "floe-polaris.pullSecrets" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- range . }}
  - name: {{ . }}
  {{- end }}
{{- end }}
{{- end -}}

{{- define "floe-polaris.probeTiming" -}}
initialDelaySeconds: {{ .initialDelaySeconds }}
periodSeconds: {{ .periodSeconds }}
timeoutSeconds: {{ .timeoutSeconds }}
failureThreshold: {{ .failureThreshold }}
{{- end -}}
