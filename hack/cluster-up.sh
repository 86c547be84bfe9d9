#!/usr/bin/env bash
# make cluster-up: builds what the local cluster needs (once per machine,
# into the tool cache), starts it (or finds it running) and prints on
# stdout exactly
#
#   export KUBECONFIG=<the administrator's kubeconfig>
#   export REGISTRY=<host:port of the registry the node pulls from>
#
# so that `eval "$(make -s cluster-up)"` works. Progress goes to stderr.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
require_root cluster-up
"$ROOT/hack/install-deps.sh" >&2
bins=$("$ROOT/hack/cluster-bins.sh")
"$ROOT/hack/cluster-images.sh" >/dev/null
exec "$bins/localcluster" up
