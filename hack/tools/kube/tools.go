//go:build tools

// Package tools pins the Kubernetes binaries built from the module proxy:
// kube-apiserver for envtest (hack/envtest.sh) and the node's components
// for the local cluster (hack/cluster-bins.sh).
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
