#!/usr/bin/env bash
# make demo: start a local registry, push a few images, pin the embedded
# example (examples/update-digests) with pin-images and print the diffs:
# first pin, a tag that moves, the refresh, a lock and an offline render.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

work=$(mktemp -d)
reg_pid=""
cleanup() {
  [ -n "$reg_pid" ] && kill "$reg_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# The examples name localhost:5000; use another port if 5000 is taken.
port=5000
while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
mkdir -p "$work/registry"
cat > "$work/registry/config.yml" <<YAML
version: 0.1
log: {level: error}
storage:
  filesystem: {rootdirectory: $work/registry/data}
  delete: {enabled: true}
http:
  addr: 127.0.0.1:$port
YAML
docker-registry serve "$work/registry/config.yml" > "$work/registry/log" 2>&1 &
reg_pid=$!
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
log "registry on localhost:$port"

export DOCKER_CONFIG=$work/docker   # anonymous: leave the user's logins alone
push() { # push REPO:TAG with a one-file layer whose content makes it unique
  local dir=$work/layer-$RANDOM
  mkdir -p "$dir" && printf '%s %s\n' "$1" "$(date +%s%N)" > "$dir/version"
  tar -C "$dir" -cf "$dir.tar" version
  "$BIN/crane" append -f "$dir.tar" -t "localhost:$port/$1" >/dev/null 2>&1
}
for image in team/web:1.0 team/proxy:2 team/ansible-runner:13; do push "$image"; done

cp -r "$ROOT/examples/update-digests" "$work/example"
if [ "$port" != 5000 ]; then
  grep -rl 'localhost:5000' "$work/example" | xargs sed -i "s/localhost:5000/localhost:$port/g"
fi
# Keep the example's relative exec path (../../../bin/pin-images) working.
mkdir -p "$work/a/b" && mv "$work/example" "$work/a/b/update-digests" && ln -s "$BIN" "$work/a/bin"
ex=$work/a/b/update-digests
cp -r "$ex" "$work/before"
PATH=$BIN:$PATH

show() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
show "pin-images pin -w examples/update-digests/pinned/"
pin-images pin -w "$ex/pinned/"
show "diff (only image and digest lines change)"
(cd "$work" && diff -ru before/pinned a/b/update-digests/pinned) || true

show "pin-images verify --fail-on-drift examples/update-digests/pinned/"
pin-images verify --fail-on-drift "$ex/pinned/"

push team/web:1.0
cp -r "$ex/pinned" "$work/pinned-before-refresh"
show "# team/web:1.0 was pushed again: the tag moved"
show "pin-images verify examples/update-digests/pinned/"
pin-images verify "$ex/pinned/" || true
show "pin-images pin -w --mode refresh examples/update-digests/pinned/"
pin-images pin -w --mode refresh "$ex/pinned/"
(cd "$work" && diff -u pinned-before-refresh/deployment.yaml a/b/update-digests/pinned/deployment.yaml) || true

show "pin-images lock -o examples/update-digests/locked/images.lock.yaml examples/update-digests/locked/"
pin-images lock -o "$ex/locked/images.lock.yaml" "$ex/locked/"
cat "$ex/locked/images.lock.yaml"
show "kustomize build --enable-alpha-plugins --enable-exec examples/update-digests/locked/   # mode: locked, no network"
kill "$reg_pid"; reg_pid=""
"$BIN/kustomize" build --enable-alpha-plugins --enable-exec "$ex/locked/"
log "the registry was stopped before this render: it came from the lock"
