/*
Copyright 2026 The Ansible Playbook Operator Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package registry

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// errors.Join stands in for go-containerregistry's ping error, which joins
// the https and the plain-http attempts the same way for errors.As. The
// certificate is what the user must fix, whatever else failed, and it is a
// reachable registry, so never "network required".
func TestClassifyReportsAnUntrustedCertificate(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(srv.Close)
	_, certErr := (&http.Client{}).Get(srv.URL) // the system roots do not trust httptest's CA
	if certErr == nil {
		t.Fatal("httptest's certificate was trusted")
	}
	fallback := &transport.Error{StatusCode: http.StatusBadRequest} // a TLS port's answer to plain HTTP

	for name, err := range map[string]error{
		"the https attempt alone":                   certErr,
		"the https attempt, then the http fallback": errors.Join(certErr, fallback),
		"the http fallback, then the https attempt": errors.Join(fallback, certErr),
	} {
		t.Run(name, func(t *testing.T) {
			got := Classify("r", err, func() bool { return false })
			if got.Code != Unreachable {
				t.Errorf("Code = %q, want %q (%v)", got.Code, Unreachable, got)
			}
			for _, want := range []string{"certificate", srv.URL} {
				if !strings.Contains(got.Detail, want) {
					t.Errorf("Detail %q does not mention %q", got.Detail, want)
				}
			}
			if strings.Contains(got.Detail, "400") {
				t.Errorf("Detail %q reports the http fallback instead of the certificate", got.Detail)
			}
		})
	}
}

func TestNewError_quotedBodiesAreTrimmedToOneLine(t *testing.T) {
	body := "<html>\n<head><title>Bad Gateway</title></head>\n" + strings.Repeat("<p>filler ü</p>\n", 4000) + "</html>"
	e := NewError(Failed, "r", "unexpected status code 502 Bad Gateway: "+body)
	if strings.ContainsAny(e.Detail, "\n\r") {
		t.Errorf("Detail has line breaks: %q", e.Detail[:80])
	}
	if n := len(e.Detail); n > maxDetail+len("…") {
		t.Errorf("Detail is %d bytes, want at most %d", n, maxDetail+len("…"))
	}
	if !strings.HasPrefix(e.Detail, "unexpected status code 502 Bad Gateway: <html> <head>") || !strings.HasSuffix(e.Detail, "…") {
		t.Errorf("Detail = %q", e.Detail)
	}
	if !utf8.ValidString(e.Detail) {
		t.Errorf("Detail was cut inside a character: %q", e.Detail)
	}
}
