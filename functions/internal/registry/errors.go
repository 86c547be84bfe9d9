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
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/cloud37/ansible-playbook-operator/functions/internal/redact"
)

// Code classifies a registry failure by what the user has to do about it.
type Code string

// The failure classes. Their messages are part of the user interface (DESIGN.md 2.5).
const (
	// ManifestUnknown: the registry does not have the tag or digest.
	ManifestUnknown Code = "manifest unknown"
	// Unauthorized: the registry refused the credentials sent, or anonymous access.
	Unauthorized Code = "unauthorized"
	// DigestMismatch: the registry serves another digest than the pin for that tag.
	DigestMismatch Code = "digest verification failed"
	// InvalidDigest: a digest that is not sha256 with 64 lower-case hex digits.
	InvalidDigest Code = "invalid digest format"
	// NetworkRequired: a lookup was needed but the function runs without network.
	NetworkRequired Code = "network required"
	// NotLocked: locked mode and the lock has no entry for the reference.
	NotLocked Code = "not in lock"
	// Unreachable: the registry could not be connected to.
	Unreachable Code = "registry unreachable"
	// Timeout: the run's deadline passed before the registry answered.
	Timeout Code = "timeout"
	// Interrupted: the run was stopped (Ctrl-C, SIGTERM) before the registry answered.
	Interrupted Code = "interrupted"
	// InvalidAnswer: the registry (or something in front of it) answered
	// with something that is not a manifest, or with digests that disagree.
	InvalidAnswer Code = "invalid registry answer"
	// RateLimited: the registry kept answering 429 after the retries.
	RateLimited Code = "rate limited"
	// PlatformNotFound: the image has no manifest for the requested platform.
	PlatformNotFound Code = "platform not found"
	// Failed: any other registry error.
	Failed Code = "registry error"
)

// NetworkRequiredMessage names the flags that give a containerized function network.
const NetworkRequiredMessage = "network required: kustomize build --enable-alpha-plugins --network / kpt fn render --allow-network"

// Error is a classified, credential-free registry failure.
type Error struct {
	Code Code
	// Ref is the reference as the user wrote it.
	Ref string
	// Detail is the sanitized cause.
	Detail string
	// Hint says what to do.
	Hint string
}

func (e *Error) Error() string {
	if e.Ref == "" {
		return e.Message()
	}
	return e.Ref + ": " + e.Message()
}

// Message is the error without the reference, for results that name it elsewhere.
func (e *Error) Message() string {
	msg := string(e.Code)
	if e.Code == NetworkRequired {
		msg = NetworkRequiredMessage
	}
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

// Hints for each class: what the user changes to fix it.
var hints = map[Code]string{
	ManifestUnknown:  "the tag or digest does not exist: check the reference, or push the image",
	Unauthorized:     "log in (docker login), mount the docker config (DOCKER_CONFIG), or use exec mode so your credential helpers run",
	DigestMismatch:   "the registry serves another digest for that tag: re-pin with mode refresh, or pin the tag you tested",
	InvalidDigest:    "write the digest as sha256: followed by 64 lower-case hex digits, or remove it and let pin-images resolve the tag",
	NetworkRequired:  "give the function network, or commit an ImageLock with every image so the render needs none",
	NotLocked:        "run `pin-images lock` (or mode resolve) to add it to the lock, then commit the lock",
	Unreachable:      "check the registry host and port, that it is up, and HTTPS_PROXY/NO_PROXY",
	Timeout:          "raise the timeout, lower concurrency, or check the registry's health",
	Interrupted:      "nothing was written; run pin-images again",
	InvalidAnswer:    "check the registry address, HTTPS_PROXY and that no login page, captive portal or broken cache answers for the registry; use verifyContent (--verify-content) for registries you do not trust",
	RateLimited:      "authenticate (anonymous Docker Hub pulls are limited), use a mirror, or lower concurrency",
	PlatformNotFound: "pick a platform the image is built for, or leave platform empty to pin the index",
	Failed:           "check the registry's logs and the reference",
}

// NewError builds a classified error with the standard hint. The detail is
// redacted by pattern here (no run's secrets are at hand: the resolver and
// the output remove those) and trimmed, since it may quote a response body.
func NewError(code Code, ref, detail string) *Error {
	return newError(code, ref, detail, nil)
}

// newError removes secrets before the detail is cut, so that no part of a
// secret survives at the cut.
func newError(code Code, ref, detail string, secrets *redact.Secrets) *Error {
	return &Error{Code: code, Ref: ref, Detail: excerpt(secrets.Text(detail)), Hint: hints[code]}
}

// maxDetail bounds a detail: response bodies quoted in errors (a login
// page, a 64 KiB error body) are cut to a readable excerpt on one line.
const maxDetail = 400

func excerpt(s string) string {
	if strings.ContainsAny(s, "\r\n\t") {
		s = strings.Join(strings.Fields(s), " ")
	}
	s = strings.TrimSpace(s)
	if len(s) <= maxDetail {
		return s
	}
	cut := maxDetail
	for cut > 0 && s[cut]&0xC0 == 0x80 { // not inside a UTF-8 sequence
		cut--
	}
	return s[:cut] + "…"
}

// Classify turns a go-containerregistry or network error into an *Error.
// hasNetwork reports whether any non-loopback interface exists; a network
// failure without one is "network required" (a container run with --network none).
func Classify(ref string, err error, hasNetwork func() bool) *Error {
	return classify(ref, err, hasNetwork, nil)
}

// classify is Classify removing the run's secrets from the detail.
func classify(ref string, err error, hasNetwork func() bool, secrets *redact.Secrets) *Error {
	var e *Error
	if errors.As(err, &e) {
		if e.Ref == "" {
			c := *e
			c.Ref = ref
			return &c
		}
		return e
	}
	// An untrusted certificate comes first: for loopback and private
	// registries go-containerregistry also tries plain HTTP, and that
	// attempt's answer (400 from the TLS port) would hide the real cause.
	if detail, ok := certificateError(err); ok {
		e := newError(Unreachable, ref, detail, secrets)
		e.Hint = "the registry's certificate is not trusted: add its CA to caBundle (--ca-file), or list the registry under insecureRegistries"
		return e
	}
	var aerr *answerError
	if errors.As(err, &aerr) {
		return newError(InvalidAnswer, ref, aerr.msg, secrets)
	}
	var terr *transport.Error
	if errors.As(err, &terr) {
		return classifyStatus(ref, terr, secrets)
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return newError(Timeout, ref, "the registry did not answer before the run's deadline", secrets)
	case errors.Is(err, context.Canceled):
		return newError(Interrupted, ref, "", secrets)
	case isNetworkError(err):
		if hasNetwork != nil && !hasNetwork() {
			return newError(NetworkRequired, ref, "", secrets)
		}
		return newError(Unreachable, ref, err.Error(), secrets)
	}
	return newError(Failed, ref, err.Error(), secrets)
}

func classifyStatus(ref string, terr *transport.Error, secrets *redact.Secrets) *Error {
	for _, d := range terr.Errors {
		switch d.Code {
		case transport.ManifestUnknownErrorCode, transport.NameUnknownErrorCode:
			return newError(ManifestUnknown, ref, string(d.Code), secrets)
		case transport.UnauthorizedErrorCode, transport.DeniedErrorCode:
			return newError(Unauthorized, ref, terr.Error(), secrets)
		case transport.TooManyRequestsErrorCode:
			return newError(RateLimited, ref, terr.Error(), secrets)
		}
	}
	switch terr.StatusCode {
	case http.StatusNotFound:
		return newError(ManifestUnknown, ref, terr.Error(), secrets)
	case http.StatusUnauthorized, http.StatusForbidden:
		return newError(Unauthorized, ref, terr.Error(), secrets)
	case http.StatusTooManyRequests:
		return newError(RateLimited, ref, terr.Error(), secrets)
	}
	return newError(Failed, ref, terr.Error(), secrets)
}

// certificateError reports a failed TLS certificate verification in err,
// described with the request it failed when err says which.
func certificateError(err error) (string, bool) {
	cause := certificateCause(err)
	if cause == nil {
		return "", false
	}
	var urlErr *url.Error
	if errors.As(err, &urlErr) && certificateCause(urlErr.Err) != nil {
		return urlErr.Error(), true
	}
	return cause.Error(), true
}

// certificateCause returns the certificate verification failure in err, or nil.
func certificateCause(err error) error {
	var verr *tls.CertificateVerificationError
	var unknown x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	switch {
	case errors.As(err, &verr):
		return verr
	case errors.As(err, &unknown):
		return unknown
	case errors.As(err, &hostname):
		return hostname
	case errors.As(err, &invalid):
		return invalid
	}
	return nil
}

func isNetworkError(err error) bool {
	var opErr *net.OpError
	var dnsErr *net.DNSError
	var urlErr *url.Error
	return errors.As(err, &opErr) || errors.As(err, &dnsErr) || errors.Is(err, syscall.ECONNREFUSED) ||
		(errors.As(err, &urlErr) && !errors.Is(err, context.DeadlineExceeded))
}

// HasExternalNetwork reports whether any up, non-loopback interface has an
// address. A function container started with --network none has only lo.
func HasExternalNetwork() bool {
	ifaces, err := net.Interfaces()
	if err != nil {
		return true // unknown: do not blame the network
	}
	for _, iface := range ifaces {
		if iface.Flags&net.FlagUp == 0 || iface.Flags&net.FlagLoopback != 0 {
			continue
		}
		if addrs, err := iface.Addrs(); err == nil && len(addrs) > 0 {
			return true
		}
	}
	return false
}

// Errorf is a convenience for classified errors with formatted detail.
func Errorf(code Code, ref, format string, args ...any) *Error {
	return NewError(code, ref, fmt.Sprintf(format, args...))
}
