//go:build tools

// Package tools pins kubectl (the version of kube-apiserver in ../kube),
// built by hack/kubectl.sh; the README's kubectl commands run with it.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kubectl"
)
