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


{{/* postgresql.params as a libpq conninfo string: key='value' pairs, quotes and backslashes escaped. */}}
{{- define "floe-dagster.conninfo" -}}
{{- $pairs := list -}}
{{- range $key, $value := . -}}
{{- $pairs = append $pairs (printf "%s='%s'" $key (toString $value | replace "\\" "\\\\" | replace "'" "\\'")) -}}
{{- end -}}
{{- join " " $pairs -}}
{{- end -}}

{{/* The backup's dump side: pg_dump | gzip into the FIFO, then its exit status next to it
(the upload side cannot tell a complete stream from one cut short by a failed pg_dump). */}}
{{- define "floe-dagster.backupDumpScript" -}}
set -uo pipefail
fifo="$BACKUP_STREAM_DIR/dump.sql.gz"
mkfifo "$fifo" 2>/dev/null || test -p "$fifo" || exit 1
pg_dump --no-owner --format=plain ${BACKUP_PG_PARAMS:+--dbname="$BACKUP_PG_PARAMS"} | gzip -6 > "$fifo"
status=$?
echo "$status" > "$BACKUP_STREAM_DIR/dump.status.tmp"
mv "$BACKUP_STREAM_DIR/dump.status.tmp" "$BACKUP_STREAM_DIR/dump.status"
exit "$status"
{{- end -}}

{{/* The backup's upload side: stream the FIFO to s3://.../<UTC time>.sql.gz; keep the object only
when both the dump and the upload succeeded. */}}
{{- define "floe-dagster.backupUploadScript" -}}
set -u
fifo="$BACKUP_STREAM_DIR/dump.sql.gz"
key="${BACKUP_DESTINATION%/}/$(date -u +%Y%m%dT%H%M%SZ).sql.gz"
mkfifo "$fifo" 2>/dev/null || test -p "$fifo" || exit 1
aws s3 cp - "$key" ${AWS_ENDPOINT_URL:+--endpoint-url "$AWS_ENDPOINT_URL"} < "$fifo"
upload=$?
waited=0
while [ ! -f "$BACKUP_STREAM_DIR/dump.status" ] && [ "$waited" -lt 60 ]; do sleep 1; waited=$((waited + 1)); done
dump=$(cat "$BACKUP_STREAM_DIR/dump.status" 2>/dev/null || echo unknown)
if [ "$upload" != 0 ] || [ "$dump" != 0 ]; then
  aws s3 rm "$key" ${AWS_ENDPOINT_URL:+--endpoint-url "$AWS_ENDPOINT_URL"} > /dev/null 2>&1
  echo "backup failed: pg_dump | gzip exited $dump, upload exited $upload; removed $key" >&2
  exit 1
fi
echo "backup written to $key"
{{- end -}}
