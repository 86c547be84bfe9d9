#!/usr/bin/env bash
# Builds an image from a FROM scratch Dockerfile reproducibly (hack/tools/imagebuild,
# go-containerregistry) and loads it into the local Docker engine.
#
#   hack/image.sh fn VERSION        -> localhost/pin-images:dev and :VERSION
#   hack/image.sh operator VERSION  -> localhost/ansible-playbook-operator:dev and :VERSION
#
# hack/push-images.sh pushes the contexts of every platform as OCI indexes.
#
# Static binaries for each of $ARCHES (default: the host; the multi-arch
# index uses "amd64 arm64") are built per module with
# GOWORK=off, CGO_ENABLED=0 and -trimpath; the context per platform is
# _out/image-<name>/<os>-<arch>/. Same inputs give the same digest.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

what=${1:?usage: hack/image.sh fn|operator VERSION}
version=${2:-dev}
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-0}

case "$what" in
  fn) module=functions bins="pin-images" dockerfile=Dockerfile.fn image=localhost/pin-images
      ldflags="-s -w -X github.com/cloud37/ansible-playbook-operator/functions/internal/version.Version=$version" ;;
  operator) module=operator bins="manager playbook-runner" dockerfile=Dockerfile.operator image=localhost/ansible-playbook-operator
      ldflags="-s -w" ;;
  *) echo "unknown image $what" >&2; exit 2 ;;
esac

need_apt ca-certificates update-ca-certificates
(cd "$ROOT/hack/tools/imagebuild" && GOWORK=off go build -trimpath -o "$BIN/imagebuild" .)

for arch in ${ARCHES:-$(go env GOARCH)}; do
  ctx=$ROOT/_out/image-$what/linux-$arch
  rm -rf "$ctx" && mkdir -p "$ctx"
  for bin in $bins; do
    (cd "$ROOT/$module" && GOWORK=off CGO_ENABLED=0 GOOS=linux GOARCH=$arch go build -trimpath -ldflags "$ldflags" -o "$ctx/$bin" "./cmd/$bin")
    chmod 0755 "$ctx/$bin"
  done
  cp "$ROOT/hack/image/passwd" "$ROOT/hack/image/group" "$ctx/"
  cp /etc/ssl/certs/ca-certificates.crt "$ctx/ca-certificates.crt"
  chmod 0644 "$ctx/passwd" "$ctx/group" "$ctx/ca-certificates.crt"
done
host_arch=$(go env GOARCH)
"$BIN/imagebuild" -f "$ROOT/$dockerfile" -context "linux/$host_arch=$ROOT/_out/image-$what/linux-$host_arch" \
  -docker-tar "$ROOT/_out/image-$what.tar" -tag "$image:dev" >&2
docker load -q -i "$ROOT/_out/image-$what.tar" >&2
docker tag "$image:dev" "$image:$version"
log "loaded $image:dev and $image:$version ($(docker image inspect "$image:dev" --format '{{.Id}}'))"
