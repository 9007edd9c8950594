{{/* Chart name, truncated to 63 characters (the DNS label limit). */}}
{{- define "ray-services.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name `<release>-<chart>`, or the release alone when it already contains the chart name. */}}
{{- define "ray-services.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* `<chart>-<version>` for the helm.sh/chart label. */}}
{{- define "ray-services.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels: name and instance only; user labels never enter selectors. */}}
{{- define "ray-services.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ray-services.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Standard labels of every object. */}}
{{- define "ray-services.labels" -}}
helm.sh/chart: {{ include "ray-services.chart" . }}
{{ include "ray-services.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: ray-services
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Selector labels of one component; call with (dict "root" $ "component" "<name>"). */}}
{{- define "ray-services.componentSelectorLabels" -}}
{{ include "ray-services.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Labels of one component; call with (dict "root" $ "component" "<name>"). */}}
{{- define "ray-services.componentLabels" -}}
{{ include "ray-services.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* ServiceAccount of the service pods and the loader. */}}
{{- define "ray-services.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "ray-services.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The one image reference. */}}
{{- define "ray-services.image" -}}
{{- if .Values.image.ref }}
{{- .Values.image.ref }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* RayCluster name: at most 41 characters, so KubeRay's `<name>-head-svc` (50 at most) is never shortened. */}}
{{- define "ray-services.rayClusterName" -}}
{{- if .Values.ray.clusterName }}
{{- .Values.ray.clusterName }}
{{- else }}
{{- printf "%s-ray" (include "ray-services.fullname" . | trunc 37 | trimSuffix "-") }}
{{- end }}
{{- end }}

{{/* Head Service that KubeRay creates for the RayCluster. */}}
{{- define "ray-services.headServiceName" -}}
{{- printf "%s-head-svc" (include "ray-services.rayClusterName" .) }}
{{- end }}

{{/* Name of one service's Deployment and Service; call with (dict "root" $ "name" "<service>"). */}}
{{- define "ray-services.serviceName" -}}
{{- printf "%s-%s" (include "ray-services.fullname" .root | trunc 52 | trimSuffix "-") .name }}
{{- end }}

{{/* Secret with the Ray token under the key `auth_token` (the key KubeRay reads). */}}
{{- define "ray-services.authSecretName" -}}
{{- default (printf "%s-ray-auth" (include "ray-services.fullname" .)) .Values.auth.existingSecret }}
{{- end }}

{{/* Secret with the services' API key store under the key `api-keys.json`. */}}
{{- define "ray-services.apiKeysSecretName" -}}
{{- default (printf "%s-api-keys" (include "ray-services.fullname" .)) .Values.apiKeys.existingSecret }}
{{- end }}

{{/* Secret with the Redis password of GCS fault tolerance. */}}
{{- define "ray-services.redisSecretName" -}}
{{- default (printf "%s-redis" (include "ray-services.fullname" .)) .Values.ray.gcsFaultTolerance.existingSecret }}
{{- end }}

{{/* Claim name of a volume; call with (dict "root" $ "volume" "data|results|models"). */}}
{{- define "ray-services.claimName" -}}
{{- $v := index .root.Values .volume }}
{{- default (printf "%s-%s" (include "ray-services.fullname" .root) .volume) $v.persistence.existingClaim }}
{{- end }}

{{/* ConfigMap holding the data in `data.source: configMap`. */}}
{{- define "ray-services.dataConfigMapName" -}}
{{- default (printf "%s-data" (include "ray-services.fullname" .)) .Values.data.configMap.name }}
{{- end }}

{{/* Environment shared by every container: where the data, results and models are, writable caches
     under /tmp (the root filesystem is read-only), and the extra `env` values. */}}
{{- define "ray-services.commonEnv" -}}
- name: RAYSVC_DATA_DIR
  value: {{ .Values.data.mountPath | quote }}
- name: RAYSVC_RESULTS_DIR
  value: {{ .Values.results.mountPath | quote }}
- name: RAYSVC_MODELS_DIR
  value: {{ .Values.models.mountPath | quote }}
# The data comes from the loader Job (or a ConfigMap): a service waits for it instead of writing it.
- name: RAYSVC_AUTO_GENERATE_DATA
  value: "false"
- name: HOME
  value: /tmp/home
- name: MPLCONFIGDIR
  value: /tmp/matplotlib
- name: NUMBA_CACHE_DIR
  value: /tmp/numba
{{- with .Values.env }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Ray token environment of a Ray client (the services). KubeRay injects the same pair into the Ray
     containers from spec.authOptions. */}}
{{- define "ray-services.authEnv" -}}
{{- if .Values.auth.enabled -}}
- name: RAY_AUTH_MODE
  value: token
- name: RAY_AUTH_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ include "ray-services.authSecretName" . }}
      key: auth_token
{{- else -}}
- name: RAY_AUTH_MODE
  value: disabled
{{- end }}
{{- end }}

{{/* Where a service reads the API key store: a directory mount of the Secret (not subPath), so that the
     kubelet's update of a changed Secret reaches the running pods. */}}
{{- define "ray-services.apiKeysDir" -}}
/etc/raysvc/api-keys
{{- end }}

{{/* Volumes of a pod; call with (dict "root" $ "models" bool "shm" "<size>" or ""). */}}
{{- define "ray-services.volumes" -}}
{{- $root := .root -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ $root.Values.tmpSizeLimit }}
{{- if .shm }}
- name: shared-mem
  emptyDir:
    medium: Memory
    sizeLimit: {{ .shm }}
{{- end }}
- name: data
{{- if eq $root.Values.data.source "configMap" }}
  configMap:
    name: {{ include "ray-services.dataConfigMapName" $root }}
{{- else }}
  persistentVolumeClaim:
    claimName: {{ include "ray-services.claimName" (dict "root" $root "volume" "data") }}
{{- end }}
- name: results
  persistentVolumeClaim:
    claimName: {{ include "ray-services.claimName" (dict "root" $root "volume" "results") }}
{{- if .models }}
- name: models
  persistentVolumeClaim:
    claimName: {{ include "ray-services.claimName" (dict "root" $root "volume" "models") }}
{{- end }}
{{- end }}

{{/* Volume mounts matching "ray-services.volumes"; call with (dict "root" $ "models" bool "shm" bool
     "dataWritable" bool). Data is read-only except for the loader. */}}
{{- define "ray-services.volumeMounts" -}}
{{- $root := .root -}}
- name: tmp
  mountPath: /tmp
{{- if .shm }}
- name: shared-mem
  mountPath: /dev/shm
{{- end }}
- name: data
  mountPath: {{ $root.Values.data.mountPath }}
  readOnly: {{ not .dataWritable }}
- name: results
  mountPath: {{ $root.Values.results.mountPath }}
{{- if .models }}
- name: models
  mountPath: {{ $root.Values.models.mountPath }}
{{- end }}
{{- end }}

{{/* Labels of a monitoring object: the component's, `monitoring.labels` and the object's own `labels` (which
     win); call with (dict "root" $ "component" "<name>" "labels" <map>). */}}
{{- define "ray-services.monitoringLabels" -}}
{{ include "ray-services.componentLabels" (dict "root" .root "component" .component) }}
{{- with merge (deepCopy (default dict .labels)) .root.Values.monitoring.labels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Namespace of the monitoring objects. */}}
{{- define "ray-services.monitoringNamespace" -}}
{{- default .Release.Namespace .Values.monitoring.namespace }}
{{- end }}

{{/* Whether Prometheus scrapes the Ray pods (a PodMonitor or the annotations): "true" or "". */}}
{{- define "ray-services.rayScraped" -}}
{{- if or .Values.monitoring.podMonitor.enabled .Values.monitoring.annotations.enabled }}true{{ end }}
{{- end }}

{{/* `prometheus.io/*` annotations of a scraped pod, empty unless `monitoring.annotations.enabled`; call with
     (dict "root" $ "port" <metrics port>). */}}
{{- define "ray-services.scrapeAnnotations" -}}
{{- if .root.Values.monitoring.annotations.enabled -}}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .port | quote }}
prometheus.io/path: /metrics
{{- end }}
{{- end }}

{{/* Checks of values the schema cannot express. */}}
{{- define "ray-services.validate" -}}
{{- $gcs := .Values.ray.gcsFaultTolerance }}
{{- if and $gcs.enabled (not (or $gcs.existingSecret $gcs.redisPassword)) }}
{{- fail "ray.gcsFaultTolerance.enabled needs the Redis password from a Secret: set ray.gcsFaultTolerance.existingSecret or ray.gcsFaultTolerance.redisPassword" }}
{{- end }}
{{- if .Values.apiKeys.enabled }}
{{- range $probe, $p := .Values.probes }}
{{- if not (has $p.path (list "/healthz" "/readyz")) }}
{{- fail (printf "probes.%s.path %s needs an API key (apiKeys.enabled): probe /healthz or /readyz" $probe $p.path) }}
{{- end }}
{{- end }}
{{- end }}
{{- if and (eq .Values.data.source "configMap") .Values.data.loader.enabled }}
{{- fail "data.loader.enabled writes into a claim: set data.source=pvc, or data.loader.enabled=false with data.source=configMap" }}
{{- end }}
{{- $groups := 0 }}
{{- range $name, $g := .Values.ray.workerGroups }}
{{- if not $g.disabled }}
{{- $groups = add1 $groups }}
{{- if gt (int $g.minReplicas) (int $g.maxReplicas) }}
{{- fail (printf "ray.workerGroups.%s: minReplicas (%v) is greater than maxReplicas (%v)" $name $g.minReplicas $g.maxReplicas) }}
{{- end }}
{{- if or (lt (int $g.replicas) (int $g.minReplicas)) (gt (int $g.replicas) (int $g.maxReplicas)) }}
{{- fail (printf "ray.workerGroups.%s: replicas (%v) must lie between minReplicas (%v) and maxReplicas (%v)" $name $g.replicas $g.minReplicas $g.maxReplicas) }}
{{- end }}
{{- end }}
{{- end }}
{{- if eq $groups 0 }}
{{- fail "ray.workerGroups: at least one group must be enabled (the head has num-cpus 0 and runs no tasks)" }}
{{- end }}
{{- range $name, $svc := .Values.services }}
{{- range $svc.calls }}
{{- if (index $.Values.services .).disabled }}
{{- fail (printf "services.%s calls %s, which is disabled" $name .) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
