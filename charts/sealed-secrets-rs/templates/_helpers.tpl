{{/*
Names, as upstream's chart: fullnameOverride, else the release name when it contains the name,
else "<release>-<name>", cut to 63 characters. The name is upstream's chart name,
`sealed-secrets` (not this chart's): it is in the Deployment's selector, which Kubernetes does
not let an upgrade change, so `helm upgrade` of a release of upstream's chart to this one keeps
the same Deployment, Service selectors and object names.
*/}}
{{- define "ssrs.name" -}}
{{- default "sealed-secrets" .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "ssrs.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "ssrs.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The controller's namespace: the `namespace` value, else the release namespace. */}}
{{- define "ssrs.namespace" -}}
{{- default .Release.Namespace .Values.namespace -}}
{{- end -}}

{{- define "ssrs.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "ssrs.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "ssrs.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ssrs.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "ssrs.labels" -}}
{{ include "ssrs.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: sealed-secrets
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* "  annotations:" (under metadata) from commonAnnotations plus the given map; nothing when both
are empty. */}}
{{- define "ssrs.annotations" -}}
{{- $all := merge (deepCopy (default (dict) .extra)) (default (dict) .context.Values.commonAnnotations) -}}
{{- with $all }}
  annotations:
    {{- toYaml . | nindent 4 }}
{{- end }}
{{- end -}}

{{- define "ssrs.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if .Values.image.registry -}}
{{- printf "%s/%s:%s" .Values.image.registry .Values.image.repository $tag -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* "k=v,k=v" from a map of strings, sorted by key. */}}
{{- define "ssrs.kvList" -}}
{{- $out := list -}}
{{- range $k, $v := . -}}
{{- $out = append $out (printf "%s=%s" $k (toString $v)) -}}
{{- end -}}
{{- join "," $out -}}
{{- end -}}

{{/*
The namespaces whose SealedSecrets the controller unseals in namespace-scoped mode: its own and
each of additionalNamespaces, without duplicates.
*/}}
{{- define "ssrs.watchedNamespaces" -}}
{{- $all := list (include "ssrs.namespace" .) -}}
{{- range .Values.additionalNamespaces -}}
{{- if not (has . $all) -}}
{{- $all = append $all . -}}
{{- end -}}
{{- end -}}
{{- join "," $all -}}
{{- end -}}

{{/* The unsealing rules (ClusterRole, or Role per namespace in namespace-scoped mode). */}}
{{- define "ssrs.unsealerRules" -}}
# Watch SealedSecrets (the informer lists and watches); get re-reads one whose status write hit
# a conflict.
- apiGroups: ["bitnami.com"]
  resources: ["sealedsecrets"]
  verbs: ["get", "list", "watch"]
# Write the Synced condition and observedGeneration (PUT to the status subresource). Also with
# updateStatus=false: that renders no flag (as upstream's chart), and the controller's default
# writes the status.
- apiGroups: ["bitnami.com"]
  resources: ["sealedsecrets/status"]
  verbs: ["update"]
# Secrets: get (read the target Secret before writing it, and the legacy key named
# `secretName`), create (unsealed Secrets, and new key Secrets in the controller namespace),
# update (a changed SealedSecret, or an adopted `managed` Secret), list (key Secrets at startup,
# and the informer below), watch (recreate a deleted Secret; new keys with watchForSecrets or
# leaderElect), delete (oldGcBehavior; fanOut removes copies no longer wanted). The controller
# namespace is always watched, so these rules also cover the key Secrets there.
- apiGroups: [""]
  resources: ["secrets"]
  verbs:
    - get
    - list
    - create
    - update
{{- if or (not .Values.skipRecreate) .Values.watchForSecrets .Values.leaderElect }}
    - watch
{{- end }}
{{- if or .Values.oldGcBehavior .Values.fanOut.enabled }}
    - delete
{{- end }}
{{- if .Values.fanOut.enabled }}
# Fan-out: which namespaces exist, their labels and their consent annotation (list, watch).
- apiGroups: [""]
  resources: ["namespaces"]
  verbs: ["list", "watch"]
{{- end }}
# Events about SealedSecrets (Unsealed, ErrUnsealFailed, ErrUpdateFailed): create a new one,
# patch the count of a repeated one.
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end -}}

{{/* Fails rendering on values that cannot work. */}}
{{- define "ssrs.validate" -}}
{{- if and (gt (int .Values.replicas) 1) (not .Values.leaderElect) -}}
{{- fail "replicas > 1 needs leaderElect=true (two controllers without a lease would each make keys)" -}}
{{- end -}}
{{- if and .Values.fanOut.enabled .Values.rbac.namespacedRoles -}}
{{- fail "fanOut.enabled needs the cluster-wide RBAC (rbac.namespacedRoles=false): copies go to other namespaces, and Namespaces are cluster-scoped" -}}
{{- end -}}
{{- if and .Values.networkPolicy.enabled .Values.networkPolicy.egress.enabled (or (not .Values.networkPolicy.egress.kubeapiCidr) (not .Values.networkPolicy.egress.kubeapiPort)) -}}
{{- fail "networkPolicy.egress.enabled needs networkPolicy.egress.kubeapiCidr and networkPolicy.egress.kubeapiPort (the kube-apiserver address)" -}}
{{- end -}}
{{- end -}}


{{/* A value rendered with `tpl` (a string as is, anything else as YAML), as upstream's chart. */}}
{{- define "ssrs.render" -}}
{{- if typeIs "string" .value -}}
{{- tpl .value .context -}}
{{- else -}}
{{- tpl (.value | toYaml) .context -}}
{{- end -}}
{{- end -}}

{{/* The Kubernetes version rendered for: kubeVersion (or global.kubeVersion), else the cluster's. */}}
{{- define "ssrs.kubeVersion" -}}
{{- $global := default (dict) .Values.global -}}
{{- default (default .Capabilities.KubeVersion.Version .Values.kubeVersion) $global.kubeVersion -}}
{{- end -}}

{{/* The Ingress apiVersion: ingress.apiVersion, else by the Kubernetes version. */}}
{{- define "ssrs.ingress.apiVersion" -}}
{{- $kv := include "ssrs.kubeVersion" . -}}
{{- if .Values.ingress.apiVersion -}}
{{- .Values.ingress.apiVersion -}}
{{- else if semverCompare "<1.14-0" $kv -}}
extensions/v1beta1
{{- else if semverCompare "<1.19-0" $kv -}}
networking.k8s.io/v1beta1
{{- else -}}
networking.k8s.io/v1
{{- end -}}
{{- end -}}

{{/* An Ingress backend on the Service's http port, in the form of that apiVersion. */}}
{{- define "ssrs.ingress.backend" -}}
{{- $api := include "ssrs.ingress.apiVersion" .context -}}
{{- if or (eq $api "extensions/v1beta1") (eq $api "networking.k8s.io/v1beta1") -}}
serviceName: {{ include "ssrs.fullname" .context }}
servicePort: http
{{- else -}}
service:
  name: {{ include "ssrs.fullname" .context }}
  port:
    name: http
{{- end -}}
{{- end -}}
