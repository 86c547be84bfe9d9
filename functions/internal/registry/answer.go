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
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"regexp"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/cloud37/ansible-playbook-operator/functions/internal/imageref"
)

// Every manifest answer is checked before its digest becomes a pin:
// go-containerregistry takes a HEAD's Content-Type and Docker-Content-Digest
// as they come (a login page's text/html, a sha512 digest) and does not
// compare a GET's Docker-Content-Digest with its body for tags. The
// transport records the headers of each manifest answer in the lookup's
// context, and the checks below read them.

// answerError is an answer that must not become a pin; Classify makes it
// InvalidAnswer with msg as the detail.
type answerError struct{ msg string }

func (e *answerError) Error() string { return e.msg }

func badAnswer(format string, args ...any) error {
	return &answerError{msg: fmt.Sprintf(format, args...)}
}

var manifestPathRE = regexp.MustCompile(`^/v2/.+/manifests/[^/]+$`)

// isManifestRequest tells manifest requests from pings, tokens and blobs.
func isManifestRequest(req *http.Request) bool { return manifestPathRE.MatchString(req.URL.Path) }

// manifestAnswer is what a registry answered to a manifest request.
type manifestAnswer struct {
	seen        bool
	method      string
	host, path  string
	status      int
	contentType string
	digest      string // Docker-Content-Digest as sent
	hasDigest   bool
}

// answerRecorder keeps the last manifest answer of one lookup step (after
// redirects and retries).
type answerRecorder struct {
	mu   sync.Mutex
	last manifestAnswer
}

type answerKey struct{}

// withAnswer returns a context whose manifest answers are recorded.
func withAnswer(ctx context.Context) (context.Context, *answerRecorder) {
	a := &answerRecorder{}
	return context.WithValue(ctx, answerKey{}, a), a
}

// record keeps resp's headers when req's context asks for them.
func record(req *http.Request, resp *http.Response) {
	a, ok := req.Context().Value(answerKey{}).(*answerRecorder)
	if !ok || !isManifestRequest(req) {
		return
	}
	_, hasDigest := resp.Header["Docker-Content-Digest"]
	a.mu.Lock()
	defer a.mu.Unlock()
	a.last = manifestAnswer{seen: true, method: req.Method, host: req.URL.Host, path: req.URL.Path, status: resp.StatusCode,
		contentType: resp.Header.Get("Content-Type"), digest: resp.Header.Get("Docker-Content-Digest"), hasDigest: hasDigest}
}

func (a *answerRecorder) snapshot() manifestAnswer {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.last
}

// what names the request an answer was given to, for messages.
func (a manifestAnswer) what() string {
	return fmt.Sprintf("registry %s answered %s %s", a.host, a.method, a.path)
}

// mediaType is the answer's media type without parameters ("" when absent).
func (a manifestAnswer) mediaType() types.MediaType {
	if a.contentType == "" {
		return ""
	}
	mt, _, err := mime.ParseMediaType(a.contentType)
	if err != nil {
		return types.MediaType(a.contentType)
	}
	return types.MediaType(mt)
}

func isManifestType(mt types.MediaType) bool {
	return mt.IsIndex() || mt.IsImage() || mt.IsSchema1()
}

// headersProblem reports a 200 answer whose headers can never name a pin:
// a media type that is not a manifest or index, or a Docker-Content-Digest
// that is not sha256 and 64 lower-case hex digits. Missing headers are no
// problem here: a GET can still tell.
func (a manifestAnswer) headersProblem() error {
	if !a.seen || a.status != http.StatusOK {
		return nil
	}
	if mt := a.mediaType(); mt != "" && !isManifestType(mt) {
		hint := ""
		if mt == "text/html" {
			hint = " (a login page or captive portal in the way?)"
		}
		return badAnswer("%s with Content-Type %q, not a manifest or index%s", a.what(), a.contentType, hint)
	}
	if a.hasDigest && imageref.ValidateDigest(a.digest) != nil {
		return badAnswer("%s with Docker-Content-Digest %q, not sha256: and 64 lower-case hex digits", a.what(), a.digest)
	}
	return nil
}

// checkHead checks a HEAD answer go-containerregistry accepted and returns
// its digest.
func checkHead(a manifestAnswer, desc *v1.Descriptor) (string, error) {
	if err := a.headersProblem(); err != nil {
		return "", err
	}
	if !isManifestType(desc.MediaType) {
		return "", badAnswer("%s with media type %q, not a manifest or index", a.what(), desc.MediaType)
	}
	d := desc.Digest.String()
	if imageref.ValidateDigest(d) != nil {
		return "", badAnswer("%s with digest %q, not sha256: and 64 lower-case hex digits", a.what(), d)
	}
	return d, nil
}

// maxManifest bounds a manifest body read into memory; the OCI distribution
// spec has registries accept at least 4 MiB, and real ones stay far below.
const maxManifest = 16 << 20

// checkGet checks a manifest GET: a manifest or index media type, a body
// that parses as one, and a Docker-Content-Digest, when sent, that is the
// sha256 of the body. It returns the body's digest.
func checkGet(a manifestAnswer, mediaType types.MediaType, body []byte) (string, error) {
	if err := a.headersProblem(); err != nil {
		return "", err
	}
	if !isManifestType(mediaType) {
		return "", badAnswer("%s with media type %q, not a manifest or index", a.what(), mediaType)
	}
	sum := sha256.Sum256(body)
	digest := "sha256:" + hex.EncodeToString(sum[:])
	if err := parseManifest(mediaType, body); err != nil {
		return "", badAnswer("%s with %d bytes that are not a valid %s: %v (cut short?)", a.what(), len(body), kindOf(mediaType), err)
	}
	// Signed schema 1 manifests are named by the digest of their payload
	// without signatures, which the header carries; there is no body hash to
	// compare with.
	if mediaType == types.DockerManifestSchema1Signed {
		if !a.hasDigest {
			return "", badAnswer("%s with a signed schema 1 manifest and no Docker-Content-Digest", a.what())
		}
		return a.digest, nil
	}
	if a.hasDigest && a.digest != digest {
		return "", badAnswer("%s with Docker-Content-Digest %s, but the body hashes to %s", a.what(), a.digest, digest)
	}
	return digest, nil
}

func kindOf(mt types.MediaType) string {
	if mt.IsIndex() {
		return "image index"
	}
	return "image manifest"
}

// parseManifest checks that body is a manifest of its media type.
func parseManifest(mt types.MediaType, body []byte) error {
	switch {
	case mt.IsIndex():
		idx, err := v1.ParseIndexManifest(bytes.NewReader(body))
		if err != nil {
			return err
		}
		if idx.SchemaVersion != 2 {
			return fmt.Errorf("schemaVersion %d, want 2", idx.SchemaVersion)
		}
		return nil
	case mt.IsImage():
		m, err := v1.ParseManifest(bytes.NewReader(body))
		if err != nil {
			return err
		}
		if m.SchemaVersion != 2 || m.Config.Digest.Hex == "" {
			return fmt.Errorf("schemaVersion %d without a config, want 2 with one", m.SchemaVersion)
		}
		return nil
	default: // schema 1
		if !json.Valid(body) {
			return fmt.Errorf("invalid JSON")
		}
		return nil
	}
}
