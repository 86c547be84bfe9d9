//go:build tools

// Package tools pins containerd and its runc shim for the local cluster
// (DESIGN.md 4, tier 6); built by hack/cluster-bins.sh.
package tools

import (
	_ "github.com/containerd/containerd/v2/cmd/containerd"
	_ "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2"
)
