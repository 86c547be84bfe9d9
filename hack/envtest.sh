#!/usr/bin/env bash
# Builds kube-apiserver v1.37.2 and etcd v3.6.16 from the Go module proxy
# (reference: shared/reference/test-infra.md) into the tool cache, once, and
# links the assets directory to bin/envtest, and prints its path on stdout
# (KUBEBUILDER_ASSETS=$(hack/envtest.sh)). KUBEBUILDER_ASSETS, when set,
# wins and nothing is built. Cold: about 10 minutes on 2 cores.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if [ -n "${KUBEBUILDER_ASSETS:-}" ]; then
  log "using KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS"
  link "$KUBEBUILDER_ASSETS" envtest
  echo "$KUBEBUILDER_ASSETS"
  exit 0
fi

ETCD=v3.6.16
dir=$(cache_dir envtest "$K8S-etcd-$ETCD" "CGO_ENABLED=0" "-trimpath" "$K8S_LDFLAGS")
if [ ! -x "$dir/kube-apiserver" ] || [ ! -x "$dir/etcd" ]; then
  mkdir -p "$dir.tmp"
  log "building etcd $ETCD into $dir (about 1 minute)"
  (cd "$ROOT/hack/tools/etcd" && GOWORK=off CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$dir.tmp/etcd" go.etcd.io/etcd/server/v3)
  log "building kube-apiserver $K8S into $dir (about 9 minutes on 2 cores, once per machine)"
  (cd "$ROOT/hack/tools/kube" && GOWORK=off CGO_ENABLED=0 go build -trimpath -ldflags "$K8S_LDFLAGS" -o "$dir.tmp/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver)
  rm -rf "$dir" && mv "$dir.tmp" "$dir"
fi
link "$dir" envtest
echo "$dir"
