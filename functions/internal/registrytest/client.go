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

package registrytest

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Auth returns an authn.Authenticator for the registry's credentials
// (authn.Anonymous when it has none).
func (r *Registry) Auth() authn.Authenticator {
	if r.Username == "" {
		return authn.Anonymous
	}
	return &authn.Basic{Username: r.Username, Password: r.Password}
}

// Transport returns an HTTP transport that reaches the registry: one
// trusting CAPEM when TLS, else remote.DefaultTransport.
func (r *Registry) Transport() http.RoundTripper {
	if r.transport == nil {
		return remote.DefaultTransport
	}
	return r.transport
}

// RemoteOptions returns remote.Option values that reach the registry: its
// credentials plus, when TLS, a transport trusting CAPEM.
func (r *Registry) RemoteOptions() []remote.Option {
	opts := []remote.Option{remote.WithAuth(r.Auth())}
	if r.CAPEM != nil {
		opts = append(opts, remote.WithTransport(r.Transport()))
	}
	return opts
}

// newTransport clones ggcr's default transport so timeouts and proxies
// match what production code uses, adding only trust in the test CA.
func newTransport(t testing.TB, caPEM []byte) http.RoundTripper {
	t.Helper()
	if caPEM == nil {
		return remote.DefaultTransport
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatalf("registrytest: test ca pem holds no certificate")
	}
	tr := remote.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return tr
}

// PushRandom pushes a random single-platform image to repoTag
// ("team/app:1.0", no host) and returns its manifest digest ("sha256:...").
func (r *Registry) PushRandom(t testing.TB, repoTag string) string {
	t.Helper()
	img, err := random.Image(512, 1)
	mustOK(t, err, "creating random image")
	ref := r.tag(t, repoTag)
	mustOK(t, remote.Write(ref, img, r.RemoteOptions()...), "pushing "+ref.String())
	return digestOf(t, img)
}

// PushIndex pushes a multi-arch OCI image index to repoTag with one random
// child image per platform ("linux/amd64", "linux/arm64/v8"). Each child's
// config carries the platform and so does its index descriptor, as real
// multi-arch builds produce. It returns the index digest and a map from
// platform string to child manifest digest.
func (r *Registry) PushIndex(t testing.TB, repoTag string, platforms ...string) (index string, children map[string]string) {
	t.Helper()
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	children = make(map[string]string, len(platforms))
	for _, p := range platforms {
		plat, err := v1.ParsePlatform(p)
		mustOK(t, err, "parsing platform "+p)
		img := randomPlatformImage(t, plat)
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: plat}})
		children[p] = digestOf(t, img)
	}
	ref := r.tag(t, repoTag)
	mustOK(t, remote.WriteIndex(ref, idx, r.RemoteOptions()...), "pushing index "+ref.String())
	d, err := idx.Digest()
	mustOK(t, err, "computing index digest")
	return d.String(), children
}

// randomPlatformImage builds an OCI image with one random layer whose
// config declares plat; the random layer makes every child distinct.
func randomPlatformImage(t testing.TB, plat *v1.Platform) v1.Image {
	t.Helper()
	layer, err := random.Layer(512, types.OCILayer)
	mustOK(t, err, "creating random layer")
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.AppendLayers(base, layer)
	mustOK(t, err, "appending layer")
	cf, err := img.ConfigFile()
	mustOK(t, err, "reading config")
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant, cf.OSVersion = plat.OS, plat.Architecture, plat.Variant, plat.OSVersion
	img, err = mutate.ConfigFile(img, cf)
	mustOK(t, err, "setting platform config")
	return img
}

// Copy copies the image manifest (and its layers) at the full reference
// from to the full reference to (a signature manifest moved to another
// digest's tag, a tag moved).
func (r *Registry) Copy(t testing.TB, from, to string) {
	t.Helper()
	src, err := name.NewTag(from, name.Insecure)
	mustOK(t, err, "parsing "+from)
	dst, err := name.NewTag(to, name.Insecure)
	mustOK(t, err, "parsing "+to)
	img, err := remote.Image(src, r.RemoteOptions()...)
	mustOK(t, err, "reading "+from)
	mustOK(t, remote.Write(dst, img, r.RemoteOptions()...), "writing "+to)
}

// Delete deletes the manifest digest from repo ("team/app"); tests use it
// to simulate a pinned digest that no longer exists.
func (r *Registry) Delete(t testing.TB, repo, digest string) {
	t.Helper()
	ref, err := name.NewDigest(r.Ref(repo + "@" + digest))
	mustOK(t, err, "parsing digest reference")
	mustOK(t, remote.Delete(ref, r.RemoteOptions()...), "deleting "+ref.String())
}

// WriteDockerConfig writes a docker config.json holding the registry's
// credentials into a new temp dir and returns the dir, for DOCKER_CONFIG.
// A registry without credentials gets an empty "auths" object.
func (r *Registry) WriteDockerConfig(t testing.TB) string {
	t.Helper()
	auths := map[string]map[string]string{}
	if r.Username != "" {
		auth := base64.StdEncoding.EncodeToString([]byte(r.Username + ":" + r.Password))
		auths[r.Host] = map[string]string{"auth": auth}
	}
	b, err := json.MarshalIndent(map[string]any{"auths": auths}, "", "  ")
	mustOK(t, err, "encoding docker config")
	dir := t.TempDir()
	writeFile(t, dir, "config.json", b)
	return dir
}

func (r *Registry) tag(t testing.TB, repoTag string) name.Tag {
	t.Helper()
	ref, err := name.NewTag(r.Ref(repoTag))
	mustOK(t, err, "parsing tag "+repoTag)
	return ref
}

func digestOf(t testing.TB, img v1.Image) string {
	t.Helper()
	d, err := img.Digest()
	mustOK(t, err, "computing image digest")
	return d.String()
}
