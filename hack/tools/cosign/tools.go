//go:build tools

// Package tools pins the cosign CLI the signature tests sign images with
// (issue 17); built by hack/tools.sh cosign.
package tools

import (
	_ "github.com/sigstore/cosign/v3/cmd/cosign"
)
