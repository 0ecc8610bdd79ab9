{{/* Labels every object carries (deploy/k8s adds part-of through kustomize). */}}
{{- define "capaflow.labels" -}}
app.kubernetes.io/part-of: capaflow
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end }}

{{- define "capaflow.image" -}}
{{ printf "%s:%s" .Values.image.repository (toString .Values.image.tag) }}
{{- end }}

{{/* The image's user (deploy/docker/Dockerfile: uid 10001). */}}
{{- define "capaflow.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile: {type: RuntimeDefault}
{{- end }}

{{- define "capaflow.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities: {drop: ["ALL"]}
{{- end }}

{{/* Liveness asks only "does the process answer": a database or broker outage
must take the pod out of the Service (readiness), not restart it. */}}
{{- define "capaflow.livenessProbe" -}}
httpGet: {path: /healthz, port: http}
initialDelaySeconds: 5
periodSeconds: 10
timeoutSeconds: 3
failureThreshold: 3
{{- end }}

{{/* The key store mount and a writable /tmp (the root filesystem is read-only). */}}
{{- define "capaflow.volumeMounts" -}}
- name: api-keys
  mountPath: /etc/capaflow
  readOnly: true
- name: tmp
  mountPath: /tmp
{{- end }}

{{- define "capaflow.volumes" -}}
- name: api-keys
  secret:
    secretName: {{ .Values.apiKeysSecret }}
    items:
      - key: api-keys.json
        path: api-keys.json
- name: tmp
  emptyDir: {}
{{- end }}

{{/* env entries from a secret: (dict "prefix" P "secret" S "entries" LIST) */}}
{{- define "capaflow.secretEnv" -}}
{{- range .entries }}
- name: {{ $.prefix }}{{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ $.secret }}
      key: {{ .key }}
      {{- if .optional }}
      optional: true
      {{- end }}
{{- end }}
{{- end }}
