#!/usr/bin/env bash
# Builds the local cluster's binaries (DESIGN.md 4, tier 6) into the tool
# cache, once per machine, links them into bin/cluster/ and prints that
# directory: the envtest kube-apiserver and etcd (hack/envtest.sh), kubectl
# (hack/kubectl.sh), kubelet, kube-controller-manager, kube-scheduler and
# kube-proxy v1.37.2 (hack/tools/kube), containerd v2.4.2 and its runc shim
# (hack/tools/containerd), and the localcluster command of this checkout.
# It installs the Debian packages the node runs with (runc, CNI plugins,
# the registry, iptables, util-linux's nsenter/unshare). Cold: about 10
# minutes on 2 cores after hack/envtest.sh.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

CONTAINERD=v2.4.2
CONTAINERD_TAGS="no_btrfs no_devmapper no_zfs no_dynamic_plugins"

need_apt runc runc containernetworking-plugins /usr/lib/cni/bridge docker-registry docker-registry \
  iptables iptables-restore nftables nft util-linux nsenter
envtest=$("$ROOT/hack/envtest.sh")
kubectl=$("$ROOT/hack/kubectl.sh")

node=$(cache_dir kube-node "$K8S" "CGO_ENABLED=0" "-trimpath" "$K8S_LDFLAGS")
for c in kubelet kube-controller-manager kube-scheduler kube-proxy; do
  [ -x "$node/$c" ] && continue
  mkdir -p "$node"
  log "building $c $K8S into $node (kubelet about 3 minutes, the others 1, once per machine)"
  (cd "$ROOT/hack/tools/kube" && GOWORK=off CGO_ENABLED=0 go build -trimpath -ldflags "$K8S_LDFLAGS" -o "$node/$c.tmp" "k8s.io/kubernetes/cmd/$c")
  mv "$node/$c.tmp" "$node/$c"
done

ctrd=$(cache_dir containerd "$CONTAINERD" "CGO_ENABLED=0" "-trimpath" "$CONTAINERD_TAGS")
for c in containerd containerd-shim-runc-v2; do
  [ -x "$ctrd/$c" ] && continue
  mkdir -p "$ctrd"
  log "building $c $CONTAINERD into $ctrd (about 3 minutes, once per machine)"
  (cd "$ROOT/hack/tools/containerd" && GOWORK=off CGO_ENABLED=0 go build -trimpath -tags "$CONTAINERD_TAGS" \
    -ldflags "-s -w -X github.com/containerd/containerd/v2/version.Version=$CONTAINERD" \
    -o "$ctrd/$c.tmp" "github.com/containerd/containerd/v2/cmd/$c")
  mv "$ctrd/$c.tmp" "$ctrd/$c"
done

dir=$BIN/cluster
mkdir -p "$dir"
for c in kube-apiserver etcd; do ln -sfn "$envtest/$c" "$dir/$c"; done
ln -sfn "$kubectl" "$dir/kubectl"
for c in kubelet kube-controller-manager kube-scheduler kube-proxy; do ln -sfn "$node/$c" "$dir/$c"; done
for c in containerd containerd-shim-runc-v2; do ln -sfn "$ctrd/$c" "$dir/$c"; done
# The command that starts and stops the node, and runs its provisioner:
# this checkout's, not cached.
(cd "$ROOT/operator" && GOWORK=off CGO_ENABLED=0 go build -trimpath -o "$dir/localcluster" ./cmd/localcluster)
echo "$dir"
