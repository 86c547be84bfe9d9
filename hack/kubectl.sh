#!/usr/bin/env bash
# Builds kubectl v1.37.2 from the module proxy (the k8s.io/kubernetes tool
# module hack/tools/kubectl, the release of hack/tools/kube) into the tool
# cache, once, links it to bin/kubectl and prints its path. The README's
# kubectl commands are run with it against the envtest API server.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

dir=$(cache_dir kubectl "$K8S" "CGO_ENABLED=0" "-trimpath" "$K8S_LDFLAGS")
if [ ! -x "$dir/kubectl" ]; then
  log "building kubectl $K8S into $dir (a few minutes, once per machine)"
  mkdir -p "$dir.tmp"
  (cd "$ROOT/hack/tools/kubectl" && GOWORK=off CGO_ENABLED=0 go build -trimpath -ldflags "$K8S_LDFLAGS" -o "$dir.tmp/kubectl" k8s.io/kubernetes/cmd/kubectl)
  rm -rf "$dir" && mv "$dir.tmp" "$dir"
fi
link "$dir/kubectl" kubectl
echo "$dir/kubectl"
