//go:build tools

// Package tools pins kube-apiserver for envtest; built by hack/envtest.sh.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
)
