{{/* The injector's --config file (controller/injector/ reads it): what it adds to a pod. */}}
{{- define "faultline.injector.config" -}}
{{- $sidecar := .Values.injector.sidecar -}}
{{- $config := dict
  "image" (include "faultline.image" (dict "ctx" . "image" $sidecar.image))
  "imagePullPolicy" .Values.image.pullPolicy
  "ownNamespace" .Release.Namespace
  "excludeNamespaces" .Values.injector.webhook.excludeNamespaces
  "proxyPort" (int $sidecar.proxyPort)
  "adminPort" (int $sidecar.adminPort)
  "logLevel" $sidecar.logLevel
  "capture" $sidecar.capture
  "excludeInboundPorts" $sidecar.excludeInboundPorts
  "resources" (include "faultline.stringResources" $sidecar.resources | fromJson)
  "captureResources" (include "faultline.stringResources" $sidecar.captureResources | fromJson)
  "adminTokenSecret" (dict "name" (include "faultline.sidecarTokenSecretName" .) "key" "token" "optional" .Values.sidecarToken.optional)
  "namespaceLookup" .Values.injector.namespaceLookup
-}}
{{- with include "faultline.redisUrl" . }}
{{- $_ := set $config "redisUrl" . }}
{{- end }}
{{- toYaml $config }}
{{- end }}

{{/* Namespaces the webhook never sends: the configured ones and the release's own. */}}
{{- define "faultline.injector.excludeNamespaces" -}}
{{- toYaml (append .Values.injector.webhook.excludeNamespaces .Release.Namespace | uniq) }}
{{- end }}

{{/* Resources with every quantity as a string (`cpu: 1` in values is a number; the injector takes "1"). */}}
{{- define "faultline.stringResources" -}}
{{- $out := dict }}
{{- range $section, $list := . }}
{{- $quantities := dict }}
{{- range $name, $q := $list }}
{{- $_ := set $quantities $name (toString $q) }}
{{- end }}
{{- $_ := set $out $section $quantities }}
{{- end }}
{{- toJson $out }}
{{- end }}
