{{/* Chart name, truncated to the 63 characters a label value allows. */}}
{{- define "facegate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-qualified name; the release name alone when it already contains the chart's. */}}
{{- define "facegate.fullname" -}}
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

{{- define "facegate.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels: call with (dict "root" $ "component" "api"). */}}
{{- define "facegate.labels" -}}
helm.sh/chart: {{ include "facegate.chart" .root }}
{{ include "facegate.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: facegate
{{- end }}

{{- define "facegate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "facegate.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- with .component }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- end }}

{{- define "facegate.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "facegate.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "facegate.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "facegate.secretName" -}}
{{- default (printf "%s-secrets" (include "facegate.fullname" .)) .Values.secrets.existingSecret }}
{{- end }}

{{- define "facegate.secretMountPath" -}}/run/secrets/facegate{{- end }}

{{/* Fails the render with a clear message when the secrets are incomplete. */}}
{{- define "facegate.validate" -}}
{{- if not .Values.secrets.existingSecret }}
{{- $v := .Values.secrets.values }}
{{- if not $v.databaseUrl }}
{{- fail "set secrets.values.databaseUrl (postgres://...) or secrets.existingSecret" }}
{{- end }}
{{- if not $v.jwtSecret }}
{{- fail "set secrets.values.jwtSecret (at least 32 random bytes) or secrets.existingSecret" }}
{{- end }}
{{- if and .Values.encryptionAtRest.enabled (not $v.encryptionKey) }}
{{- fail "encryptionAtRest.enabled needs secrets.values.encryptionKey (32 random bytes, base64)" }}
{{- end }}
{{- end }}
{{- end }}

{{/* The non-secret environment: values.config without empty entries, plus the paths of the
secret files. One definition for the ConfigMap and the migrate hook, which runs before the
ConfigMap exists. */}}
{{- define "facegate.configData" -}}
{{- range $key, $value := .Values.config }}
{{- if ne (toString $value) "" }}
{{ $key }}: {{ toString $value | quote }}
{{- end }}
{{- end }}
FACEGATE__AUTH__JWT_SECRET_FILE: {{ printf "%s/jwt-secret" (include "facegate.secretMountPath" .) | quote }}
{{- if .Values.encryptionAtRest.enabled }}
FACEGATE__SECURITY__ENCRYPTION_KEY_FILE: {{ printf "%s/encryption-key" (include "facegate.secretMountPath" .) | quote }}
{{- end }}
{{- end }}

{{/* The chart-managed Secret's data, for the Secret and the migrate hook's copy. */}}
{{- define "facegate.secretData" -}}
{{- $v := .Values.secrets.values }}
database-url: {{ $v.databaseUrl | b64enc | quote }}
jwt-secret: {{ $v.jwtSecret | b64enc | quote }}
{{- with $v.redisUrl }}
redis-url: {{ . | b64enc | quote }}
{{- end }}
{{- with $v.awsAccessKeyId }}
aws-access-key-id: {{ . | b64enc | quote }}
{{- end }}
{{- with $v.awsSecretAccessKey }}
aws-secret-access-key: {{ . | b64enc | quote }}
{{- end }}
{{- with $v.encryptionKey }}
encryption-key: {{ . | b64enc | quote }}
{{- end }}
{{- end }}

{{/* Environment taken from the Secret: call with (dict "root" $ "secretName" NAME). Optional
keys stay unset when the Secret lacks them. */}}
{{- define "facegate.secretEnv" -}}
- name: FACEGATE__DATABASE__URL
  valueFrom:
    secretKeyRef:
      name: {{ .secretName }}
      key: database-url
- name: FACEGATE__CACHE__REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ .secretName }}
      key: redis-url
      optional: true
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ .secretName }}
      key: aws-access-key-id
      optional: true
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .secretName }}
      key: aws-secret-access-key
      optional: true
{{- end }}

{{/* Volumes shared by every facegate pod: call with (dict "root" $ "secretName" NAME). */}}
{{- define "facegate.volumes" -}}
- name: secrets
  secret:
    secretName: {{ .secretName }}
    defaultMode: 0440
    items:
      - key: jwt-secret
        path: jwt-secret
      {{- if .root.Values.encryptionAtRest.enabled }}
      - key: encryption-key
        path: encryption-key
      {{- end }}
- name: tmp
  emptyDir:
    sizeLimit: {{ .root.Values.tmpSizeLimit }}
# Records live in PostgreSQL and blobs in S3; this is scratch space only.
- name: data
  emptyDir:
    sizeLimit: {{ .root.Values.dataSizeLimit }}
{{- end }}

{{- define "facegate.volumeMounts" -}}
- name: secrets
  mountPath: {{ include "facegate.secretMountPath" . }}
  readOnly: true
- name: tmp
  mountPath: /tmp
- name: data
  mountPath: /app/data
{{- end }}

{{/* Checksums that roll the pods when their configuration changes. */}}
{{- define "facegate.checksums" -}}
checksum/config: {{ include "facegate.configData" . | sha256sum }}
{{- if not .Values.secrets.existingSecret }}
checksum/secret: {{ include "facegate.secretData" . | sha256sum }}
{{- end }}
{{- end }}

{{/* Spreads one role's pods over nodes: call with (dict "root" $ "component" NAME). */}}
{{- define "facegate.topologySpread" -}}
{{- if .root.Values.topologySpread }}
topologySpreadConstraints:
  - maxSkew: 1
    topologyKey: kubernetes.io/hostname
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- include "facegate.selectorLabels" . | nindent 8 }}
{{- end }}
{{- end }}

{{- define "facegate.scheduling" -}}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* A role's Deployment: call with (dict "root" $ "component" "api" "role" .Values.api
"command" "serve"). The api and the worker differ only in these. */}}
{{- define "facegate.deployment" -}}
{{- $root := .root }}
{{- $role := .role }}
{{- $secretName := include "facegate.secretName" $root }}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "facegate.fullname" $root }}-{{ .component }}
  labels:
    {{- include "facegate.labels" . | nindent 4 }}
spec:
  {{- if not (and $role.autoscaling $role.autoscaling.enabled) }}
  replicas: {{ $role.replicas }}
  {{- end }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "facegate.selectorLabels" . | nindent 6 }}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 1
      maxUnavailable: {{ if eq .component "api" }}0{{ else }}1{{ end }}
  template:
    metadata:
      labels:
        {{- include "facegate.labels" . | nindent 8 }}
      annotations:
        {{- include "facegate.checksums" $root | nindent 8 }}
        {{- if $root.Values.metrics.podAnnotations }}
        prometheus.io/scrape: "true"
        prometheus.io/port: "8080"
        prometheus.io/path: /metrics
        {{- end }}
        {{- with $role.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "facegate.serviceAccountName" $root }}
      automountServiceAccountToken: false
      terminationGracePeriodSeconds: {{ $role.terminationGracePeriodSeconds }}
      securityContext:
        {{- toYaml $root.Values.podSecurityContext | nindent 8 }}
      {{- with include "facegate.topologySpread" . | trim }}
      {{- . | nindent 6 }}
      {{- end }}
      {{- with include "facegate.scheduling" $root | trim }}
      {{- . | nindent 6 }}
      {{- end }}
      containers:
        - name: {{ .component }}
          image: {{ include "facegate.image" $root }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          args: [{{ .command | quote }}]
          ports:
            - name: http
              containerPort: 8080
              protocol: TCP
          envFrom:
            - configMapRef:
                name: {{ include "facegate.fullname" $root }}-config
          env:
            {{- include "facegate.secretEnv" (dict "root" $root "secretName" $secretName) | nindent 12 }}
            {{- with $role.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          {{- with $role.startupProbe }}
          startupProbe:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          {{- with $role.livenessProbe }}
          livenessProbe:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          {{- with $role.readinessProbe }}
          readinessProbe:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          {{- with $role.preStopSleepSeconds }}
          lifecycle:
            preStop:
              exec:
                command: ["sleep", {{ . | quote }}]
          {{- end }}
          resources:
            {{- toYaml $role.resources | nindent 12 }}
          securityContext:
            {{- toYaml $root.Values.securityContext | nindent 12 }}
          volumeMounts:
            {{- include "facegate.volumeMounts" $root | nindent 12 }}
      volumes:
        {{- include "facegate.volumes" (dict "root" $root "secretName" $secretName) | nindent 8 }}
{{- end }}
