#!/usr/bin/env bash
# Shared helpers for hack/ scripts: the per-user tool cache (DESIGN.md 4).
# Tools are built once into $CACHE/<tool>-<version>-<flags hash>/ and linked into bin/.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/ansible-playbook-operator
BIN=$ROOT/bin
mkdir -p "$CACHE" "$BIN"

log() { printf '==> %s\n' "$*" >&2; }

# cache_dir TOOL VERSION FLAGS... prints the cache directory for that build.
cache_dir() {
  local tool=$1 version=$2; shift 2
  local hash
  hash=$(printf '%s\n' "$(go env GOVERSION)" "$@" | sha256sum | cut -c1-12)
  printf '%s/%s-%s-%s\n' "$CACHE" "$tool" "$version" "$hash"
}

# link TARGET NAME links bin/NAME to TARGET.
link() { ln -sfn "$1" "$BIN/$2"; }

# go_install TOOL VERSION PACKAGE@VERSION builds a Go tool into the cache
# (once) and links it into bin/.
go_install() {
  local tool=$1 version=$2 pkg=$3
  local dir
  dir=$(cache_dir "$tool" "$version" "$pkg" "CGO_ENABLED=0" "-trimpath")
  if [ ! -x "$dir/$tool" ]; then
    log "building $tool $version into $dir"
    mkdir -p "$dir.tmp"
    GOWORK=off GOBIN="$dir.tmp" CGO_ENABLED=0 GOFLAGS=-trimpath go install "$pkg"
    rm -rf "$dir" && mv "$dir.tmp" "$dir"
  fi
  link "$dir/$tool" "$tool"
}

# need_apt PACKAGE BINARY... installs Debian packages whose binaries are missing.
need_apt() {
  local missing=() pkg bin
  while [ $# -gt 0 ]; do
    pkg=$1 bin=$2; shift 2
    command -v "$bin" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  log "installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The Kubernetes release of the binaries built from k8s.io/kubernetes
# (hack/tools/kube, hack/tools/kubectl), and the version stamp `go build`
# gives them (what the release build would set).
K8S=v1.37.2
K8S_LDFLAGS="-s -w -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37 \
-X k8s.io/component-base/version.gitVersion=$K8S -X k8s.io/component-base/version.gitTreeState=clean \
-X k8s.io/component-base/version.buildDate=2026-01-01T00:00:00Z"

# require_root WHAT stops WHAT with a message when not run as root: the
# local cluster creates a bridge, iptables rules, mounts and cgroups.
require_root() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "$1 needs root: the local cluster (test tier 6) creates a network bridge, iptables rules, mounts and cgroups; run it as root (sudo make $1)" >&2
    exit 1
  fi
}
