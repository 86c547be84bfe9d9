#!/usr/bin/env bash
# Installs what the tests and the demo need on a fresh machine: Debian
# packages (a real OCI registry, htpasswd) and Go tools into the tool cache.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

need_apt docker-registry docker-registry apache2-utils htpasswd
go_install crane v0.22.1 github.com/google/go-containerregistry/cmd/crane@v0.22.1
