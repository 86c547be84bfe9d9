#!/usr/bin/env bash
# Builds the pinned Go tools of code generation into the tool cache
# (DESIGN.md 4) and links them into bin/.
#
#   hack/tools.sh                   -> every tool
#   hack/tools.sh controller-gen    -> only controller-gen
set -euo pipefail
. "$(dirname "$0")/lib.sh"

CONTROLLER_TOOLS_VERSION=v0.23.0

[ $# -gt 0 ] || set -- controller-gen
for tool in "$@"; do
  case "$tool" in
    controller-gen)
      go_install controller-gen "$CONTROLLER_TOOLS_VERSION" \
        "sigs.k8s.io/controller-tools/cmd/controller-gen@$CONTROLLER_TOOLS_VERSION" ;;
    *) echo "hack/tools.sh: unknown tool $tool (known: controller-gen)" >&2; exit 2 ;;
  esac
done
