{{- define "floe-domain.labels" -}}
app.kubernetes.io/name: floe-domain
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: floe
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
floe.dev/domain: {{ .Values.domain.name }}
{{- end -}}

{{/* The shared services as each product pod must see them (domain_values.shared_service_urls). */}}
{{- define "floe-domain.sharedEnv" -}}
{{- $ns := .Values.platform.namespace -}}
FLOE_POLARIS_URI: {{ printf "http://polaris.%s.svc.cluster.local:8181/api/catalog" $ns }}
OTEL_EXPORTER_OTLP_ENDPOINT: {{ printf "http://otel-collector.%s.svc.cluster.local:4317" $ns }}
OPENLINEAGE_URL: {{ printf "http://marquez.%s.svc.cluster.local:5000" $ns }}
{{- end -}}
