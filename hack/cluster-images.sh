#!/usr/bin/env bash
# Builds the local cluster's images into the tool cache as OCI layouts and
# links them into bin/cluster-images/NAME:TAG, which `localcluster up`
# pushes to the node's registry:
#
#   pause:3.10          the pod sandbox (hack/tools/imagebuild/pause)
#   ansible-runner:13   the executor: Debian bookworm minbase + ansible-core,
#                       git, openssh-client, ca-certificates, user ansible (1000)
#   managed-host:1      a host for runs over ssh: openssh-server, python3
#
# The Debian images are cached by a key made of the resolved package
# versions (the minbase's and the ones apt-get would install), so that a
# new Debian point release or security update builds a new image and
# nothing else does. Cold: debootstrap about 1 minute, then about 30
# seconds per image.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

SUITE=bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-0}
arch=$(go env GOARCH)
out=$BIN/cluster-images
mkdir -p "$out"
need_apt debootstrap debootstrap
(cd "$ROOT/hack/tools/imagebuild" && GOWORK=off go build -trimpath -o "$BIN/imagebuild" .)

# in_root ROOTFS CMD... runs CMD chrooted in ROOTFS with /proc mounted in a
# private mount namespace (the mount goes away with it).
in_root() {
  local root=$1; shift
  unshare --mount --propagation private -- sh -c 'mount -t proc proc "$0/proc" && exec chroot "$@"' "$root" "$root" "$@"
}

# pack ROOTFS CTX writes a reproducible tar of ROOTFS (sorted, fixed
# times, numeric owners, no device nodes) to CTX/rootfs.tar.
pack() {
  tar --sort=name --mtime="@$SOURCE_DATE_EPOCH" --clamp-mtime --numeric-owner \
    --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime --format=posix \
    --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' --exclude='./tmp/*' \
    -C "$1" -cf "$2/rootfs.tar" .
}

# pause
dir=$(cache_dir image-pause 3.10 "$(sha256sum "$ROOT/hack/tools/imagebuild/pause/main.go" "$ROOT/hack/images/pause/Dockerfile")")
if [ ! -d "$dir/layout" ]; then
  rm -rf "$dir.tmp" && mkdir -p "$dir.tmp/ctx"
  (cd "$ROOT/hack/tools/imagebuild" && GOWORK=off CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$dir.tmp/ctx/pause" ./pause)
  "$BIN/imagebuild" -f "$ROOT/hack/images/pause/Dockerfile" -context "linux/$arch=$dir.tmp/ctx" -oci-layout "$dir.tmp/layout" >&2
  rm -rf "$dir.tmp/ctx" "$dir" && mv "$dir.tmp" "$dir"
fi
ln -sfn "$dir/layout" "$out/pause:3.10"

# The minbase root file system every Debian image starts from; its apt
# lists are refreshed on every run to resolve the packages.
base=$(cache_dir debian-$SUITE-minbase "$arch" "$MIRROR" "$(dpkg-query -W -f '${Version}' debootstrap)")
if [ ! -x "$base/rootfs/bin/sh" ]; then
  log "debootstrap --variant=minbase $SUITE into $base (about 1 minute, once)"
  rm -rf "$base.tmp" && mkdir -p "$base.tmp"
  debootstrap --variant=minbase --arch="$arch" "$SUITE" "$base.tmp/rootfs" "$MIRROR" >"$base.tmp/debootstrap.log" 2>&1 ||
    { tail -20 "$base.tmp/debootstrap.log" >&2; exit 1; }
  rm -rf "$base" && mv "$base.tmp" "$base"
fi
in_root "$base/rootfs" apt-get update -qq >&2

# debian_image NAME TAG: hack/images/NAME/{Dockerfile,packages.txt}.
debian_image() {
  local name=$1 tag=$2 src=$ROOT/hack/images/$1
  local pkgs plan key dir
  pkgs=$(tr '\n' ' ' < "$src/packages.txt")
  # What apt-get would install on the minbase, with versions, and the
  # minbase's own packages: the resolved package versions.
  # shellcheck disable=SC2086
  plan=$(in_root "$base/rootfs" apt-get install -s -qq --no-install-recommends $pkgs | awk '/^Inst /{gsub(/\(/,"",$3); print $2"="$3}')
  key=$( { echo "$plan"; in_root "$base/rootfs" dpkg-query -W -f '${Package}=${Version}\n'; cat "$src/Dockerfile" "$0"; } | sort | sha256sum | cut -c1-16)
  dir=$CACHE/image-$name-$SUITE-$arch-$key
  if [ ! -d "$dir/layout" ]; then
    log "building $name:$tag ($pkgs) into $dir"
    rm -rf "$dir.tmp" && mkdir -p "$dir.tmp/ctx"
    cp -a "$base/rootfs" "$dir.tmp/rootfs"
    # shellcheck disable=SC2086
    in_root "$dir.tmp/rootfs" sh -c "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $pkgs >/dev/null \
      && useradd --uid 1000 --user-group --create-home --shell /bin/sh ansible \
      && mkdir -p /run/sshd && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/debconf/*-old /var/log/*.log \
      && find /usr/share/doc -mindepth 1 ! -name copyright ! -type d -delete && rm -rf /usr/share/man/* /usr/share/locale/* /usr/share/info/*" >&2
    in_root "$dir.tmp/rootfs" dpkg-query -W -f '${Package}=${Version}\n' > "$dir.tmp/packages.lock"
    pack "$dir.tmp/rootfs" "$dir.tmp/ctx"
    "$BIN/imagebuild" -f "$src/Dockerfile" -context "linux/$arch=$dir.tmp/ctx" -oci-layout "$dir.tmp/layout" >&2
    rm -rf "$dir.tmp/rootfs" "$dir.tmp/ctx" "$dir" && mv "$dir.tmp" "$dir"
  fi
  ln -sfn "$dir/layout" "$out/$name:$tag"
}
debian_image ansible-runner 13
debian_image managed-host 1
echo "$out"
