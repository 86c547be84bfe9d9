#!/usr/bin/env bash
# Builds the pinned Go tools of code generation into the tool cache
# (DESIGN.md 4) and links them into bin/.
#
#   hack/tools.sh                   -> controller-gen
#   hack/tools.sh controller-gen    -> only controller-gen
#   hack/tools.sh cosign            -> the cosign CLI v3.1.3 (hack/tools/cosign),
#                                      which the signature tests sign images with
set -euo pipefail
. "$(dirname "$0")/lib.sh"

CONTROLLER_TOOLS_VERSION=v0.23.0
COSIGN_VERSION=v3.1.3

[ $# -gt 0 ] || set -- controller-gen
for tool in "$@"; do
  case "$tool" in
    controller-gen)
      go_install controller-gen "$CONTROLLER_TOOLS_VERSION" \
        "sigs.k8s.io/controller-tools/cmd/controller-gen@$CONTROLLER_TOOLS_VERSION" ;;
    cosign)
      dir=$(cache_dir cosign "$COSIGN_VERSION" "CGO_ENABLED=0" "-trimpath")
      if [ ! -x "$dir/cosign" ]; then
        log "building cosign $COSIGN_VERSION into $dir (about 4 minutes, once per machine)"
        mkdir -p "$dir.tmp"
        (cd "$ROOT/hack/tools/cosign" && GOWORK=off CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$dir.tmp/cosign" github.com/sigstore/cosign/v3/cmd/cosign)
        rm -rf "$dir" && mv "$dir.tmp" "$dir"
      fi
      link "$dir/cosign" cosign ;;
    *) echo "hack/tools.sh: unknown tool $tool (known: controller-gen, cosign)" >&2; exit 2 ;;
  esac
done
