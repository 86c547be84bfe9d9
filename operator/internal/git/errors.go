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

package git

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strings"
	"syscall"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/pktline"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
)

// Reason classifies a failure so that the Repository reconciler can set
// AuthValid and CloneReady with the right reason and decide whether a retry
// can help.
type Reason string

const (
	// InvalidURL means the URL is not one of the supported forms; only a spec
	// change helps.
	InvalidURL Reason = "InvalidURL"
	// AuthFailed means the server refused the credentials (or their absence),
	// or the credentials themselves are unusable (an encrypted or malformed key).
	AuthFailed Reason = "AuthFailed"
	// HostKeyMismatch means strict host key checking refused the ssh server:
	// its host is not in known_hosts, or known_hosts lists other (or revoked)
	// keys for it.
	HostKeyMismatch Reason = "HostKeyMismatch"
	// Unreachable means the server could not be reached in time: DNS failure,
	// connection refused or reset, or a timeout (including ctx's deadline).
	Unreachable Reason = "Unreachable"
	// BranchNotFound means the repository was listed but has no such branch
	// (or its HEAD points nowhere).
	BranchNotFound Reason = "BranchNotFound"
	// RevisionNotFound means no commit of the repository's branches and
	// tags matches an abbreviated revision, or several do.
	RevisionNotFound Reason = "RevisionNotFound"
	// InvalidRevision means the revision cannot name a commit that runs
	// check out (a SHA-256 name, not hex); only a spec change helps.
	InvalidRevision Reason = "InvalidRevision"
	// TooLarge means a fetch needed more than FetchLimit.
	TooLarge Reason = "TooLarge"
	// Failed is everything else: repository not found, a TLS or protocol
	// error, an unexpected HTTP status.
	Failed Reason = "Failed"
)

// Error is a classified failure whose Message is safe for conditions, events
// and logs: it never contains credentials.
type Error struct {
	Reason  Reason
	Message string
	// cause is only ever a context error, so that errors.Is(err,
	// context.DeadlineExceeded) works; other causes are not kept because
	// their text may carry credentials.
	cause error
}

var _ error = (*Error)(nil)

// Error returns the sanitized message.
func (e *Error) Error() string { return e.Message }

// Unwrap returns the context error behind a timeout or cancellation, if any.
func (e *Error) Unwrap() error { return e.cause }

// ReasonOf returns the Reason of the *Error in err's chain, or Failed.
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return Failed
}

func newError(reason Reason, format string, args ...any) *Error {
	return &Error{Reason: reason, Message: Sanitize(fmt.Sprintf(format, args...))}
}

const redacted = "[redacted]"

var (
	// userinfoRE matches the userinfo of a URL with a scheme. It runs to the
	// last "@" before the path, so that an unescaped "@" in a password cannot
	// leave half of it behind.
	userinfoRE = regexp.MustCompile(`(?i)\b([a-z][a-z0-9+.\-]*://)[^/?#\s"'<>]*@`)
	// authHeaderRE matches HTTP authorization values echoed by servers or proxies.
	authHeaderRE = regexp.MustCompile(`(?i)\b(basic|bearer|token)\s+[A-Za-z0-9._~+/=\-]{8,}`)
	// secretParamRE matches credentials passed as query or form parameters.
	secretParamRE = regexp.MustCompile(`(?i)\b(access_token|private_token|token|password|passwd|pwd|secret)=[^&\s"']+`)
	// privateKeyRE matches PEM and OpenSSH private key blocks, complete or cut off.
	privateKeyRE = regexp.MustCompile(`-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(?s:.*?)(-----END [A-Z0-9 ]*PRIVATE KEY-----|$)`)
)

// Sanitize removes credentials from text bound for conditions, events or
// logs: the userinfo of URLs (https://user:token@host becomes https://host),
// authorization header values, token and password parameters, and private
// key blocks.
func Sanitize(s string) string {
	s = privateKeyRE.ReplaceAllString(s, redacted)
	s = userinfoRE.ReplaceAllString(s, "$1")
	s = authHeaderRE.ReplaceAllString(s, "$1 "+redacted)
	s = secretParamRE.ReplaceAllString(s, "$1="+redacted)
	return s
}

// classify turns a transport error into an *Error. op is what was being
// done ("list refs of", "fetch from") and what names the remote (already
// sanitized), for the message.
func classify(ctx context.Context, err error, op, what string, auth Auth) *Error {
	var e *Error
	if errors.As(err, &e) {
		return &Error{Reason: e.Reason, Message: auth.redact(e.Message), cause: e.cause}
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		if errors.Is(ctxErr, context.DeadlineExceeded) {
			return &Error{Reason: Unreachable, cause: ctxErr,
				Message: fmt.Sprintf("timed out trying to %s %s: the server did not answer before the deadline", op, what)}
		}
		return &Error{Reason: Failed, cause: ctxErr, Message: fmt.Sprintf("canceled while trying to %s %s", op, what)}
	}
	hasCreds := auth.Username != "" || auth.Password != ""
	var (
		dnsErr    *net.DNSError
		netErr    net.Error
		opErr     *net.OpError
		unknownCA x509.UnknownAuthorityError
		hostErr   x509.HostnameError
		certErr   x509.CertificateInvalidError
		tlsVerify *tls.CertificateVerificationError
		tlsRecord tls.RecordHeaderError
		refused   *serverError
		badData   *packp.ErrUnexpectedData
		wrapped   *plumbing.UnexpectedError
		status    *githttp.Err
	)
	// go-git wraps unexpected HTTP statuses in an error without Unwrap.
	if errors.As(err, &wrapped) {
		errors.As(wrapped.Err, &status)
	}
	switch {
	case status != nil && status.Response != nil:
		// The body is not quoted: servers and proxies put anything there.
		switch code := status.Response.StatusCode; code {
		case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return newError(Unreachable, "%s answered HTTP %d: the server or a proxy in front of it is unavailable", what, code)
		default:
			return newError(Failed, "%s answered HTTP %d", what, code)
		}
	case errors.As(err, &refused):
		if lower := strings.ToLower(refused.message); strings.Contains(lower, "not exported") ||
			strings.Contains(lower, "not found") || strings.Contains(lower, "does not appear to be a git repository") {
			return newError(Failed, "repository not found at %s: the server says %q; check the path in spec.url", what, auth.redact(refused.message))
		}
		return newError(Failed, "%s refused the request: the server says %q", what, auth.redact(refused.message))
	case errors.Is(err, pktline.ErrInvalidPktLen), errors.As(err, &badData):
		// The data is not quoted: it is whatever the server sent.
		return newError(Failed, "the answer of %s is not a git ref advertisement: is spec.url the URL of a git repository?", what)
	case errors.Is(err, transport.ErrAuthenticationRequired) && hasCreds:
		return newError(AuthFailed, "authentication failed for %s: the server rejected the credentials (HTTP 401); check the username and password or token in the Repository's Secret", what)
	case errors.Is(err, transport.ErrAuthenticationRequired):
		return newError(AuthFailed, "authentication required by %s: set spec.auth to a Secret holding a token or basic-auth credentials", what)
	case errors.Is(err, transport.ErrAuthorizationFailed):
		return newError(AuthFailed, "access denied by %s (HTTP 403): the credentials are valid but may not read this repository", what)
	case errors.Is(err, transport.ErrRepositoryNotFound):
		return newError(Failed, "repository not found at %s (HTTP 404): check spec.url, or the credentials if the repository is private", what)
	case errors.As(err, &dnsErr):
		return newError(Unreachable, "failed to resolve the host of %s: %s", what, dnsErr.Err)
	case errors.Is(err, syscall.ECONNREFUSED):
		return newError(Unreachable, "connection refused by %s: nothing listens on that port", what)
	case errors.As(err, &netErr) && netErr.Timeout():
		return newError(Unreachable, "timed out connecting to %s", what)
	case errors.As(err, &unknownCA), errors.As(err, &hostErr), errors.As(err, &certErr), errors.As(err, &tlsVerify):
		return newError(Failed, "TLS certificate verification failed for %s (the operator trusts the system CA bundle): %s", what, auth.redact(rootError(err).Error()))
	case errors.As(err, &tlsRecord):
		return newError(Failed, "TLS handshake with %s failed: the server does not speak TLS on that port", what)
	case errors.As(err, &opErr):
		return newError(Unreachable, "failed to reach %s: %s", what, auth.redact(rootError(err).Error()))
	}
	return newError(Failed, "failed to %s %s: %s", op, what, auth.redact(err.Error()))
}

// rootError returns the innermost error of err's (single) chain; for network
// errors that is the short syscall text such as "connection reset by peer".
func rootError(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
}
