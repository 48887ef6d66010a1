{{/*
Names. fullname is `<release>-faultline` (or the release name when it already contains the chart
name), cut to 63 characters; components append -controller, -injector, -redis.
*/}}
{{- define "faultline.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "faultline.fullname" -}}
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

{{/* A component's name: fullname cut so that "-<component>" still fits in 63 characters.
Every object's name is one (a DNS label: Services need it, and names stay readable). */}}
{{- define "faultline.componentName" -}}
{{- $full := include "faultline.fullname" .ctx }}
{{- printf "%s-%s" ($full | trunc (int (sub 62 (len .component))) | trimSuffix "-") .component }}
{{- end }}

{{- define "faultline.controller.fullname" -}}
{{- include "faultline.componentName" (dict "ctx" . "component" "controller") }}
{{- end }}

{{- define "faultline.injector.fullname" -}}
{{- include "faultline.componentName" (dict "ctx" . "component" "injector") }}
{{- end }}

{{- define "faultline.redis.fullname" -}}
{{- include "faultline.componentName" (dict "ctx" . "component" "redis") }}
{{- end }}

{{- define "faultline.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object; selectorLabels take a dict (ctx, component). */}}
{{- define "faultline.labels" -}}
helm.sh/chart: {{ include "faultline.chart" . }}
app.kubernetes.io/name: {{ include "faultline.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: faultline
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "faultline.componentLabels" -}}
{{ include "faultline.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "faultline.selectorLabels" -}}
app.kubernetes.io/name: {{ include "faultline.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* image: takes a dict with repository, tag, digest; empty fields come from .Values.image. */}}
{{- define "faultline.image" -}}
{{- $root := .ctx }}
{{- $img := default dict .image }}
{{- $repo := default $root.Values.image.repository $img.repository }}
{{- $digest := default $root.Values.image.digest $img.digest }}
{{- if $digest }}
{{- printf "%s@%s" $repo $digest }}
{{- else }}
{{- printf "%s:%s" $repo (default (default $root.Chart.AppVersion $root.Values.image.tag) $img.tag) }}
{{- end }}
{{- end }}

{{- define "faultline.controller.serviceAccountName" -}}
{{- if .Values.controller.serviceAccount.create }}
{{- default (include "faultline.controller.fullname" .) .Values.controller.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.controller.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "faultline.tokenSecretName" -}}
{{- default (include "faultline.componentName" (dict "ctx" . "component" "token")) .Values.controller.token.existingSecret }}
{{- end }}

{{- define "faultline.sidecarTokenSecretName" -}}
{{- default (include "faultline.componentName" (dict "ctx" . "component" "sidecar-token")) .Values.sidecarToken.existingSecret }}
{{- end }}

{{- define "faultline.injector.tlsSecretName" -}}
{{- include "faultline.componentName" (dict "ctx" . "component" "injector-tls") }}
{{- end }}

{{/* The Redis URL the controller and the injected sidecars use; empty when there is none. */}}
{{- define "faultline.redisUrl" -}}
{{- if and .Values.redis.enabled .Values.redis.url }}
{{- fail "redis.url is for an external Redis: set redis.enabled=false with it (or leave redis.url empty for the bundled one)" }}
{{- end }}
{{- if .Values.redis.enabled }}
{{- printf "redis://%s.%s.svc:%d" (include "faultline.redis.fullname" .) .Release.Namespace (int .Values.redis.port) }}
{{- else }}
{{- .Values.redis.url }}
{{- end }}
{{- end }}

{{/*
A generated secret value that survives upgrades.

`helm upgrade` renders every template again, so a plain `randAlphaNum` would change the token
(and `genCA` the webhook's CA) on every upgrade. "faultline.reuseOrGenerate" takes
  existing: the live Secret (what `lookup` returned: an empty dict on install, in `helm template`
            and in `--dry-run=client`),
  key:      the data key to reuse,
  generate: the value to use when there is nothing to reuse,
and returns the live value when the Secret has a non-empty `key`, else `generate`. The lookup
itself is in "faultline.lookupSecret", so this logic is the same whether the Secret comes from
the API server or from a test.
*/}}
{{- define "faultline.reuseOrGenerate" -}}
{{- $data := default dict (get (default dict .existing) "data") }}
{{- $live := get $data .key }}
{{- if $live }}
{{- $live | b64dec }}
{{- else }}
{{- .generate }}
{{- end }}
{{- end }}

{{/* The live Secret `name` in the release namespace, or an empty dict. */}}
{{- define "faultline.lookupSecret" -}}
{{- toJson (default dict (lookup "v1" "Secret" .ctx.Release.Namespace .name)) }}
{{- end }}

{{/*
The webhook's CA and serving certificate, computed once per render and memoised on the root
context, so the Secret and the MutatingWebhookConfiguration (two templates) see the same CA.
The live Secret's ca.crt, tls.crt and tls.key are reused when all three are there; otherwise a
new CA (`genCA`) and a serving certificate for `<injector service>.<namespace>.svc` signed by
it (`genSignedCert`). Returns JSON: {"ca": PEM, "crt": PEM, "key": PEM, "reused": bool}.
*/}}
{{- define "faultline.injector.tls" -}}
{{- if not (hasKey .Values "__faultlineInjectorTLS") }}
{{- $existing := include "faultline.lookupSecret" (dict "ctx" . "name" (include "faultline.injector.tlsSecretName" .)) | fromJson }}
{{- $_ := set .Values "__faultlineInjectorTLS" (include "faultline.injector.tlsFrom" (dict "ctx" . "existing" $existing) | fromJson) }}
{{- end }}
{{- toJson (get .Values "__faultlineInjectorTLS") }}
{{- end }}

{{/* The TLS logic of "faultline.injector.tls", given the live Secret (or an empty dict). */}}
{{- define "faultline.injector.tlsFrom" -}}
{{- $data := default dict (get (default dict .existing) "data") }}
{{- if and (get $data "ca.crt") (get $data "tls.crt") (get $data "tls.key") }}
{{- toJson (dict "ca" (get $data "ca.crt" | b64dec) "crt" (get $data "tls.crt" | b64dec) "key" (get $data "tls.key" | b64dec) "reused" true) }}
{{- else }}
{{- $svc := include "faultline.injector.fullname" .ctx }}
{{- $ns := .ctx.Release.Namespace }}
{{- $days := int .ctx.Values.injector.tls.validityDays }}
{{- $ca := genCA (include "faultline.componentName" (dict "ctx" .ctx "component" "injector-ca")) $days }}
{{- $dns := list $svc (printf "%s.%s" $svc $ns) (printf "%s.%s.svc" $svc $ns) (printf "%s.%s.svc.cluster.local" $svc $ns) }}
{{- $cert := genSignedCert (printf "%s.%s.svc" $svc $ns) nil $dns $days $ca }}
{{- toJson (dict "ca" $ca.Cert "crt" $cert.Cert "key" $cert.Key "reused" false) }}
{{- end }}
{{- end }}

{{/* Pod securityContext and container securityContext shared by the faultline containers. */}}
{{- define "faultline.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "faultline.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
capabilities:
  drop: [ALL]
{{- end }}
