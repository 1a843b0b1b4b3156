{{/* Names and labels shared by every template. */}}

{{- define "poetryops.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* RELEASE-poetryops, or RELEASE when it already says poetryops; fullnameOverride wins. */}}
{{- define "poetryops.fullname" -}}
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

{{/* Cluster-scoped objects of this release (its ClusterRole and binding): unique per namespace and release. */}}
{{- define "poetryops.clusterName" -}}
{{- printf "%s-%s" .Release.Namespace (include "poetryops.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "poetryops.selectorLabels" -}}
app.kubernetes.io/name: {{ include "poetryops.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end }}

{{- define "poetryops.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "poetryops.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: poetryops
{{- end }}

{{- define "poetryops.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "poetryops.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* repository:tag, or repository:tag@digest when pinned. */}}
{{- define "poetryops.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/* Secret holding the webhook credentials, "" when the webhook is off. */}}
{{- define "poetryops.webhookSecretName" -}}
{{- if .Values.webhook.enabled }}
{{- if .Values.webhook.existingSecret }}
{{- .Values.webhook.existingSecret }}
{{- else if .Values.webhook.token }}
{{- printf "%s-webhook" (include "poetryops.fullname" .) }}
{{- else }}
{{- fail "webhook.enabled needs webhook.existingSecret (a Secret with token, hmacSecret or sourceSecret) or webhook.token" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The controller's rules in one namespace (Role) or everywhere (ClusterRole): docs/operations.md "Permissions it
needs". The test tests/chart/chart_it_test.cpp compares them with that table.
*/}}
{{- define "poetryops.controllerRules" -}}
- apiGroups: [poetryops.io]
  resources: [poetryapps]
  verbs: [get, list, watch]
- apiGroups: [poetryops.io]
  resources: [poetryapps/status]
  verbs: [update]
- apiGroups: [poetryops.io]
  resources: [poetryapprovals]
  verbs: [get, list, watch]
- apiGroups: [""]
  resources: [events]
  verbs: [create, patch]
- apiGroups: [""]
  resources: [secrets]
  verbs: [get]
  {{- with .Values.rbac.secrets.resourceNames }}
  resourceNames: {{ toJson . }}
  {{- end }}
{{- if .Values.builds.enabled }}
- apiGroups: [batch]
  resources: [jobs]
  verbs: [create, delete, get, list, watch, patch]
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch]
- apiGroups: [""]
  resources: [pods/log]
  verbs: [get]
{{- end }}
{{- end }}

{{/* Read-only health-gate objects (get, list, watch). */}}
{{- define "poetryops.gateRules" -}}
{{- if .Values.rbac.healthGates.enabled }}
- apiGroups: [argoproj.io]
  resources: [applications]
  verbs: [get, list, watch]
- apiGroups: [kustomize.toolkit.fluxcd.io]
  resources: [kustomizations]
  verbs: [get, list, watch]
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get, list, watch]
{{- end }}
{{- end }}

{{/* The routes cluster-mode canaries shift (get, patch). */}}
{{- define "poetryops.routeRules" -}}
{{- range .Values.rbac.canary.routes }}
{{- $parts := splitn "." 2 . }}
- apiGroups: [{{ $parts._1 | quote }}]
  resources: [{{ $parts._0 | quote }}]
  verbs: [get, patch]
{{- end }}
{{- end }}

{{- /*
"true" when the leader labels its own Pod poetryops.io/leader=true (--leader-pod) and the webhook Service selects
that label: with leader election only the leader reconciles, so a push must reach the leader, not a standby.
*/}}
{{- define "poetryops.leaderLabel" -}}
{{- if and .Values.leaderElection.enabled .Values.webhook.enabled .Values.controller.promotion }}true{{ end }}
{{- end }}

{{/* The admission webhook's Service (the API server calls it) and the Secret holding its serving certificate. */}}
{{- define "poetryops.admissionServiceName" -}}
{{- printf "%s-admission" (include "poetryops.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "poetryops.admissionSecretName" -}}
{{- default (printf "%s-admission-tls" (include "poetryops.fullname" .) | trunc 63 | trimSuffix "-") .Values.admission.tls.secretName }}
{{- end }}
