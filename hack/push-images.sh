#!/usr/bin/env bash
# Pushes both images, as OCI indexes of every platform `make images`
# assembled (_out/image-<name>/linux-<arch>/), to $REGISTRY:
#
#   REGISTRY=registry.example.com/platform VERSION=v0.1.0 hack/push-images.sh
#
# -> $REGISTRY/pin-images:$VERSION and $REGISTRY/ansible-playbook-operator:$VERSION,
# and prints each as REF@DIGEST (the index digest; the image's when only one
# platform was built). INSECURE=1 pushes over plain HTTP. Credentials
# come from the docker config (docker login).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

registry=${REGISTRY:?set REGISTRY, e.g. REGISTRY=localhost:5000}
version=${VERSION:-dev}
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-0}
for pair in fn:pin-images operator:ansible-playbook-operator; do
  what=${pair%%:*} name=${pair#*:}
  contexts=()
  for ctx in "$ROOT"/_out/image-"$what"/linux-*/; do
    [ -d "$ctx" ] || { echo "no build context in _out/image-$what: run make images first" >&2; exit 1; }
    arch=$(basename "$ctx"); contexts+=(-context "linux/${arch#linux-}=${ctx%/}")
  done
  # imagebuild prints each platform's digest, then the index's when there
  # are several platforms: the last digest is what the tag names.
  digest=$("$BIN/imagebuild" -f "$ROOT/Dockerfile.$what" "${contexts[@]}" -push "$registry/$name:$version" ${INSECURE:+-insecure} | awk 'END {print $2}')
  echo "$registry/$name:$version@$digest"
done
