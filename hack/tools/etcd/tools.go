//go:build tools

// Package tools pins etcd for envtest; built by hack/envtest.sh.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
)
