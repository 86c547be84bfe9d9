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

package webhook

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/cloud37/ansible-playbook-operator/functions/internal/imageref"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/kube"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/redact"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/registry"
)

// Credentials as the kubelet would have them for the pod: its
// imagePullSecrets, then its service account's, then the webhook's own
// (its docker config). Secrets and ServiceAccounts are read from the API
// server for each admission that needs them, never cached cluster-wide; no
// credential is logged or returned.

// podSpecPath is where a kind keeps its pod spec.
func podSpecPath(kind string) []string {
	switch kind {
	case "Pod":
		return []string{"spec"}
	case "CronJob":
		return []string{"spec", "jobTemplate", "spec", "template", "spec"}
	default:
		return []string{"spec", "template", "spec"}
	}
}

// pullSecretNames are the object's pod spec's service account and pull
// secrets.
func pullSecretNames(obj *yaml.RNode) (serviceAccount string, secrets []string) {
	spec, err := obj.Pipe(yaml.Lookup(podSpecPath(obj.GetKind())...))
	if err != nil || spec == nil {
		return "default", nil
	}
	serviceAccount = "default"
	if sa, err := spec.Pipe(yaml.Lookup("serviceAccountName")); err == nil && sa != nil && yaml.GetValue(sa) != "" {
		serviceAccount = yaml.GetValue(sa)
	}
	if list, err := spec.Pipe(yaml.Lookup("imagePullSecrets")); err == nil && list != nil {
		elems, _ := list.Elements()
		for _, e := range elems {
			if n, err := e.Pipe(yaml.Lookup("name")); err == nil && n != nil {
				secrets = append(secrets, yaml.GetValue(n))
			}
		}
	}
	return serviceAccount, secrets
}

// dockerAuth is one registry's entry of a docker config.
type dockerAuth struct {
	Auth          string `json:"auth"`
	Username      string `json:"username"`
	Password      string `json:"password"`
	IdentityToken string `json:"identitytoken"`
}

// secretKeychain resolves from pull secrets' entries, in order.
type secretKeychain struct {
	entries []hostAuth
}

type hostAuth struct {
	host string // normalized registry host
	cfg  authn.AuthConfig
}

var _ authn.Keychain = secretKeychain{}

func (k secretKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	want := imageref.NormalizeHost(r.RegistryStr())
	for _, e := range k.entries {
		if e.host == want {
			return authn.FromConfig(e.cfg), nil
		}
	}
	return authn.Anonymous, nil
}

// registryHost normalizes a docker config key ("https://index.docker.io/v1/",
// "registry:5000", "https://r.example/path").
func registryHost(key string) string {
	if strings.Contains(key, "://") {
		if u, err := url.Parse(key); err == nil {
			key = u.Host
		}
	}
	key, _, _ = strings.Cut(key, "/")
	return imageref.NormalizeHost(key)
}

// parseDockerConfig reads .dockerconfigjson ({"auths": {...}}) or the
// legacy .dockercfg (the map itself).
func parseDockerConfig(data []byte, legacy bool) ([]hostAuth, error) {
	var auths map[string]dockerAuth
	if legacy {
		if err := json.Unmarshal(data, &auths); err != nil {
			return nil, err
		}
	} else {
		var cfg struct {
			Auths map[string]dockerAuth `json:"auths"`
		}
		if err := json.Unmarshal(data, &cfg); err != nil {
			return nil, err
		}
		auths = cfg.Auths
	}
	var out []hostAuth
	for key, a := range auths {
		cfg := authn.AuthConfig{Username: a.Username, Password: a.Password, IdentityToken: a.IdentityToken}
		if a.Auth != "" {
			dec, err := base64.StdEncoding.DecodeString(a.Auth)
			if err != nil {
				return nil, fmt.Errorf("an auth entry that is not base64")
			}
			cfg.Username, cfg.Password, _ = strings.Cut(string(dec), ":")
		}
		out = append(out, hostAuth{host: registryHost(key), cfg: cfg})
	}
	return out, nil
}

// Credentials builds the resolver of a request: the pull secrets of its
// pod spec (read now), then the webhook's own keychain, behind the cache.
type Credentials struct {
	Kube     *kube.Client
	Own      authn.Keychain
	Registry registry.Options
	Cache    *Cache
	Secrets  *redact.Secrets
	Metrics  *Metrics

	mu      sync.Mutex
	remotes map[string]registry.Resolver // by credential set
}

// Resolver is Admitter.Resolver.
func (c *Credentials) Resolver(ctx context.Context, req *Request, obj *yaml.RNode) (registry.Resolver, error) {
	entries, err := c.pullSecrets(ctx, req.Namespace, obj)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	for _, e := range entries {
		fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00", e.host, e.cfg.Username, e.cfg.Password, e.cfg.IdentityToken)
		c.Secrets.Add(e.cfg.Password, e.cfg.IdentityToken)
	}
	id := hex.EncodeToString(h.Sum(nil))
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.remotes == nil {
		c.remotes = map[string]registry.Resolver{}
	}
	if r, ok := c.remotes[id]; ok {
		return r, nil
	}
	opts := c.Registry
	opts.Keychain = authn.NewMultiKeychain(secretKeychain{entries: entries}, c.Own)
	opts.Secrets = c.Secrets
	remote, err := registry.NewRemote(opts)
	if err != nil {
		return nil, err
	}
	// A bounded number of credential sets: an LRU would keep the busiest,
	// a reset after the bound is simpler and loses only warm connections.
	if len(c.remotes) >= 256 {
		c.remotes = map[string]registry.Resolver{}
	}
	r := &cached{inner: remote, id: id, cache: c.Cache, metrics: c.Metrics}
	c.remotes[id] = r
	return r, nil
}

// pullSecrets reads the pod's and its service account's pull secrets.
func (c *Credentials) pullSecrets(ctx context.Context, namespace string, obj *yaml.RNode) ([]hostAuth, error) {
	if c.Kube == nil {
		return nil, nil
	}
	sa, names := pullSecretNames(obj)
	var account struct {
		ImagePullSecrets []struct {
			Name string `json:"name"`
		} `json:"imagePullSecrets"`
	}
	err := c.Kube.Get(ctx, fmt.Sprintf("/api/v1/namespaces/%s/serviceaccounts/%s", url.PathEscape(namespace), url.PathEscape(sa)), &account)
	if err != nil && !kube.IsNotFound(err) {
		return nil, fmt.Errorf("failed to read ServiceAccount %s/%s for its imagePullSecrets: %v", namespace, sa, err)
	}
	for _, s := range account.ImagePullSecrets {
		names = append(names, s.Name)
	}
	var out []hostAuth
	for _, name := range names {
		var secret struct {
			Type string            `json:"type"`
			Data map[string][]byte `json:"data"`
		}
		if err := c.Kube.Get(ctx, fmt.Sprintf("/api/v1/namespaces/%s/secrets/%s", url.PathEscape(namespace), url.PathEscape(name)), &secret); err != nil {
			if kube.IsNotFound(err) {
				continue // the kubelet skips a missing pull secret too
			}
			return nil, fmt.Errorf("failed to read pull secret %s/%s: %v", namespace, name, err)
		}
		var entries []hostAuth
		var perr error
		switch secret.Type {
		case "kubernetes.io/dockerconfigjson":
			entries, perr = parseDockerConfig(secret.Data[".dockerconfigjson"], false)
		case "kubernetes.io/dockercfg":
			entries, perr = parseDockerConfig(secret.Data[".dockercfg"], true)
		default:
			continue
		}
		if perr != nil {
			return nil, fmt.Errorf("pull secret %s/%s holds no valid docker config: %v", namespace, name, perr)
		}
		out = append(out, entries...)
	}
	return out, nil
}
