{{/*
Checks the schema cannot express, all of them on every render, in the message format of
clipper-common's failOnErrors (this chart does not depend on the library). Included by validate.yaml.
*/}}
{{- define "monitoring.validate" -}}
{{- $errors := list -}}
{{- $kps := index .Values "kube-prometheus-stack" -}}
{{- $grafana := $kps.grafana | default dict -}}
{{- $ingress := $grafana.ingress | default dict -}}
{{- if and $kps.enabled ($grafana.enabled | default true) $ingress.enabled .Values.grafanaIngress.requireTls (not $ingress.tls) -}}
{{- $errors = append $errors "kube-prometheus-stack.grafana.ingress.tls is empty while the Grafana Ingress is enabled: Grafana's login would travel in clear. Give a TLS entry (secretName and hosts), or set grafanaIngress.requireTls=false if TLS ends in front of the ingress." -}}
{{- end -}}
{{- if and $kps.enabled $grafana.adminPassword -}}
{{- $errors = append $errors "kube-prometheus-stack.grafana.adminPassword is set in values, where it is stored in the release in clear: leave it empty (a random password is generated into the Secret <release>-grafana) or name your own Secret in kube-prometheus-stack.grafana.admin.existingSecret." -}}
{{- end -}}
{{- $loki := index .Values "loki" -}}
{{- if and .Values.lokiDatasource.enabled (not $loki.enabled) (not .Values.lokiDatasource.url) -}}
{{- $errors = append $errors "lokiDatasource.enabled is true while loki.enabled is false: give lokiDatasource.url (your own Loki) or set lokiDatasource.enabled=false." -}}
{{- end -}}
{{- if and .Values.logShipper.enabled (not $loki.enabled) (not .Values.logShipper.lokiUrl) -}}
{{- $errors = append $errors "logShipper.enabled is true while loki.enabled is false: give logShipper.lokiUrl (your own Loki's push URL) or set logShipper.enabled=false." -}}
{{- end -}}
{{- $shipperImage := .Values.logShipper.image -}}
{{- if and (not $shipperImage.digest) (has $shipperImage.tag (list "" "latest")) -}}
{{- $errors = append $errors (printf "logShipper.image.tag %q does not pin a release: set logShipper.image.tag to a version (e.g. v1.21.0) or logShipper.image.digest to a sha256 digest" $shipperImage.tag) -}}
{{- end -}}
{{- if $errors -}}
{{- fail (printf "the values of chart %s have %d problem(s):\n- %s" .Chart.Name (len $errors) (join "\n- " $errors)) -}}
{{- end -}}
{{- end -}}
