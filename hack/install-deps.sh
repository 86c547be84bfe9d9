#!/usr/bin/env bash
# Installs what the tests and the demo need on a fresh machine: Debian
# packages (a real OCI registry, htpasswd) and Go tools into the tool cache.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

need_apt docker-registry docker-registry apache2-utils htpasswd
# Real git servers on loopback for operator/internal/gittest (git daemon,
# git http-backend, sshd).
need_apt git git openssh-server /usr/sbin/sshd
# Debian's ansible-core (2.14 on bookworm) for the runner tier: playbook-runner
# runs ansible-playbook, ansible-galaxy and the tests ansible-vault.
need_apt ansible-core ansible-playbook
# promtool checks the PrometheusRule of kustomize/components/servicemonitor.
need_apt prometheus promtool
go_install crane v0.22.1 github.com/google/go-containerregistry/cmd/crane@v0.22.1
go_install kustomize v5.8.2 sigs.k8s.io/kustomize/kustomize/v5@v5.8.2
# The signature tests sign images with the real cosign CLI.
"$ROOT/hack/tools.sh" cosign
if ! command -v kpt >/dev/null 2>&1; then
  echo "kpt is not on PATH: the pipeline tests run the kpt 1.0.0-beta.56 these machines come with" >&2
  echo "(it cannot be built from the module proxy without a stub, see shared/reference/test-infra.md C)" >&2
  exit 1
fi
command -v docker >/dev/null 2>&1 || { echo "docker is not on PATH: the function image tests need the local Docker engine" >&2; exit 1; }
