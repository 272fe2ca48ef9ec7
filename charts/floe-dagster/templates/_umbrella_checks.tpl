{{- /*
The checks of a release that holds the official chart beside floe-dagster (floe-runtime,
floe-platform): one floe image, one schema migration, one ExternalSecret, one daemon. Called
with a context whose .Values holds the blocks "floe-dagster", "dagster" and "floe-jobs" as the
umbrella passes them (each with its `enabled` switch), only when floe-dagster is on.
*/ -}}
{{- define "floe-dagster.umbrellaChecks" -}}
{{- /*
One floe image. floe-dagster.image is the floe image of the release; the official chart takes it
again as list entries (the code location and the init container staging the artifacts, in the
code location and in every run pod), and floe-jobs has its own image value; Helm cannot fill
them from another value. Refuse a release
whose entries disagree with it (e.g. only floe-dagster.image.tag changed by hand), instead of
running two builds of floe side by side. `floe platform render` and
examples/environments/image_values.py write every place from the one value.
*/ -}}
{{- $floe := index .Values "floe-dagster" -}}
{{- if and $floe.enabled .Values.dagster.enabled -}}
{{- $repository := $floe.image.repository -}}
{{- $want := printf "%s:%s" $repository $floe.image.tag -}}
{{- $userCode := index .Values.dagster "dagster-user-deployments" -}}
{{- $containers := list -}}
{{- range $deployment := $userCode.deployments -}}
{{- if eq $deployment.image.repository $repository -}}
{{- $containers = append $containers (dict "where" (printf "dagster.dagster-user-deployments.deployments[%s].image" $deployment.name) "image" (printf "%s:%s" $deployment.image.repository $deployment.image.tag)) -}}
{{- end -}}
{{- range $container := ($deployment.initContainers | default list) -}}
{{- $containers = append $containers (dict "where" (printf "dagster.dagster-user-deployments.deployments[%s].initContainers[%s].image" $deployment.name $container.name) "image" $container.image) -}}
{{- end -}}
{{- end -}}
{{- $podSpec := dig "runLauncher" "config" "k8sRunLauncher" "runK8sConfig" "podSpecConfig" dict .Values.dagster -}}
{{- range $container := (dig "initContainers" list $podSpec) -}}
{{- $containers = append $containers (dict "where" (printf "dagster.runLauncher.config.k8sRunLauncher.runK8sConfig.podSpecConfig.initContainers[%s].image" $container.name) "image" $container.image) -}}
{{- end -}}
{{- $jobs := index .Values "floe-jobs" -}}
{{- if $jobs.enabled -}}
{{- $containers = append $containers (dict "where" "floe-jobs.image" "image" (printf "%s:%s" $jobs.image.repository $jobs.image.tag)) -}}
{{- end -}}
{{- range $entry := $containers -}}
{{- if and (hasPrefix (printf "%s:" $repository) $entry.image) (ne $entry.image $want) -}}
{{- fail (printf "%s is %s but floe-dagster.image is %s: one release runs one floe image. Restate the lists with examples/environments/image_values.py, or let 'floe platform render' write them." $entry.where $entry.image $want) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- /*
One schema migration: floe-dagster's migrate hook replaces the official chart's migrate Job (a
plain Job with a fixed name: immutable on the next upgrade, and run after the preflight hook).
*/ -}}
{{- if and $floe.enabled (dig "migrate" "enabled" true $floe) .Values.dagster.enabled (dig "migrate" "enabled" false .Values.dagster) -}}
{{- fail "dagster.migrate.enabled and floe-dagster.migrate.enabled are both on: floe's migrate hook replaces the official chart's migrate Job. Set dagster.migrate.enabled: false" -}}
{{- end -}}
{{- /*
One ExternalSecret per Secret: floe-dagster and floe-jobs each can create theirs, and with the same
secretName the second object would fail the install. The Secret is shared: create it once.
*/ -}}
{{- $jobs := index .Values "floe-jobs" -}}
{{- if and $floe.enabled $jobs.enabled (dig "secrets" "externalSecret" "enabled" false $floe) (dig "secrets" "externalSecret" "enabled" false $jobs) -}}
{{- if eq (dig "secrets" "secretName" "" $floe) (dig "secrets" "secretName" "" $jobs) -}}
{{- fail (printf "floe-dagster.secrets.externalSecret and floe-jobs.secrets.externalSecret both create the Secret %s: enable the ExternalSecret in floe-dagster only (floe-jobs mounts the same Secret)" (dig "secrets" "secretName" "" $floe)) -}}
{{- end -}}
{{- end -}}
{{- /*
One daemon. With floe's daemons under leader election (floe-dagster.daemon.ha, platform.yaml's
orchestrator.daemon mode ha) the official chart's daemon must be off: beside them it would run
outside the election and tick every schedule twice. Its instance settings then come from
dagster.additionalInstanceConfig (`floe platform render` writes both).
*/ -}}
{{- if and $floe.enabled .Values.dagster.enabled (dig "daemon" "ha" "enabled" false $floe) -}}
{{- if dig "dagsterDaemon" "enabled" true .Values.dagster -}}
{{- fail "floe-dagster.daemon.ha.enabled and dagster.dagsterDaemon.enabled are both on: the official chart's daemon would run beside floe's, outside the leader election, and every schedule would tick twice. Set dagster.dagsterDaemon.enabled: false (floe platform render writes both from platform.yaml's orchestrator.daemon.mode)" -}}
{{- end -}}
{{- if not (dig "additionalInstanceConfig" "run_coordinator" "" .Values.dagster) -}}
{{- fail "floe-dagster.daemon.ha.enabled needs dagster.additionalInstanceConfig.run_coordinator (and run_monitoring, run_retries, sensors, schedules): with the official daemon off its chart no longer writes them into dagster.yaml, and runs would skip the queue. floe platform render writes them from dagster.dagsterDaemon" -}}
{{- end -}}
{{- end -}}
{{- end -}}
