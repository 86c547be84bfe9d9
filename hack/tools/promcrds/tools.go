//go:build tools

// Package promcrds pins the Prometheus Operator's monitoring API, from which
// hack/promcrds.sh generates the ServiceMonitor and PrometheusRule CRDs with
// controller-gen for the deployment tests (the CRDs themselves are not
// published as a Go module).
package promcrds

import _ "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
