{{/* The injector's --config file (controller/injector/ reads it): what it adds to a pod. */}}
{{- define "faultline.injector.config" -}}
{{- $sidecar := .Values.injector.sidecar -}}
{{- $config := dict
  "image" (include "faultline.image" (dict "ctx" . "image" $sidecar.image))
  "imagePullPolicy" .Values.image.pullPolicy
  "proxyPort" (int $sidecar.proxyPort)
  "adminPort" (int $sidecar.adminPort)
  "capture" $sidecar.capture
  "excludeInboundPorts" $sidecar.excludeInboundPorts
  "resources" $sidecar.resources
  "adminTokenSecret" (dict "name" (include "faultline.sidecarTokenSecretName" .) "key" "token")
  "excludeNamespaces" (include "faultline.injector.excludeNamespaces" . | fromYamlArray)
-}}
{{- with include "faultline.redisUrl" . }}
{{- $_ := set $config "redisUrl" . }}
{{- end }}
{{- toYaml $config }}
{{- end }}

{{/* Namespaces never injected: the configured ones and the release's own. */}}
{{- define "faultline.injector.excludeNamespaces" -}}
{{- toYaml (append .Values.injector.webhook.excludeNamespaces .Release.Namespace | uniq) }}
{{- end }}
