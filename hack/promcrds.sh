#!/usr/bin/env bash
# Generates the Prometheus Operator's ServiceMonitor and PrometheusRule CRDs
# (monitoring.coreos.com/v1) with controller-gen from the monitoring API
# module v0.95.2 (hack/tools/promcrds), once per machine, into the tool cache,
# links the directory to bin/promcrds and prints its path. The deployment
# tests install them in envtest to dry-run the servicemonitor component.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

VERSION=v0.95.2
"$ROOT/hack/tools.sh" controller-gen
dir=$(cache_dir promcrds "$VERSION" "controller-gen v0.23.0" "crd:allowDangerousTypes=true,maxDescLen=0")
if [ ! -f "$dir/monitoring.coreos.com_servicemonitors.yaml" ]; then
  log "generating the ServiceMonitor and PrometheusRule CRDs ($VERSION) into $dir"
  rm -rf "$dir.tmp" && mkdir -p "$dir.tmp/all"
  (cd "$ROOT/hack/tools/promcrds" && GOWORK=off "$BIN/controller-gen" crd:allowDangerousTypes=true,maxDescLen=0 \
    paths=github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1 output:crd:artifacts:config="$dir.tmp/all")
  mv "$dir.tmp/all/monitoring.coreos.com_servicemonitors.yaml" "$dir.tmp/all/monitoring.coreos.com_prometheusrules.yaml" "$dir.tmp/"
  rm -rf "$dir.tmp/all" "$dir" && mv "$dir.tmp" "$dir"
fi
link "$dir" promcrds
echo "$dir"
