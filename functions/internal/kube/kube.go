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

// Package kube is the webhook's small Kubernetes API client: JSON GET,
// create, update, patch and watch over the REST API, authenticated with
// the pod's service account token (re-read, as bound tokens rotate) or a
// kubeconfig's client certificate or token. pin-images needs a handful of
// calls (a ConfigMap, Secrets, ServiceAccounts, its webhook
// configurations), which do not justify client-go's size in every face of
// the binary.
package kube

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Config says where the API server is and who the client is.
type Config struct {
	// Host is the API server's URL.
	Host string
	// CA is the PEM bundle that signed the API server's certificate.
	CA []byte
	// CertPEM and KeyPEM are a client certificate (optional).
	CertPEM, KeyPEM []byte
	// Token is a bearer token; TokenFile is read on every request instead
	// (a projected service account token is rotated by the kubelet).
	Token, TokenFile string
}

// The service account's mount in a pod.
const saDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// InCluster is the pod's service account's view of its cluster.
func InCluster() (Config, error) {
	host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
	if host == "" || port == "" {
		return Config{}, errors.New("not in a pod: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are unset (give --kubeconfig)")
	}
	ca, err := os.ReadFile(saDir + "/ca.crt")
	if err != nil {
		return Config{}, fmt.Errorf("failed to read the service account's CA: %w", err)
	}
	return Config{Host: "https://" + net.JoinHostPort(host, port), CA: ca, TokenFile: saDir + "/token"}, nil
}

// InClusterNamespace is the pod's namespace.
func InClusterNamespace() string {
	b, _ := os.ReadFile(saDir + "/namespace")
	return strings.TrimSpace(string(b))
}

// FromKubeconfig reads the current context of a kubeconfig (inline or
// file certificates, or a token).
func FromKubeconfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, err
	}
	var kc struct {
		CurrentContext string `yaml:"current-context"`
		Clusters       []struct {
			Name    string `yaml:"name"`
			Cluster struct {
				Server string `yaml:"server"`
				CAData string `yaml:"certificate-authority-data"`
				CAFile string `yaml:"certificate-authority"`
			} `yaml:"cluster"`
		} `yaml:"clusters"`
		Contexts []struct {
			Name    string `yaml:"name"`
			Context struct {
				Cluster string `yaml:"cluster"`
				User    string `yaml:"user"`
			} `yaml:"context"`
		} `yaml:"contexts"`
		Users []struct {
			Name string `yaml:"name"`
			User struct {
				CertData string `yaml:"client-certificate-data"`
				CertFile string `yaml:"client-certificate"`
				KeyData  string `yaml:"client-key-data"`
				KeyFile  string `yaml:"client-key"`
				Token    string `yaml:"token"`
			} `yaml:"user"`
		} `yaml:"users"`
	}
	if err := yaml.Unmarshal(data, &kc); err != nil {
		return Config{}, fmt.Errorf("failed to read kubeconfig %q: %w", path, err)
	}
	cluster, user := "", ""
	for _, c := range kc.Contexts {
		if c.Name == kc.CurrentContext || kc.CurrentContext == "" {
			cluster, user = c.Context.Cluster, c.Context.User
			break
		}
	}
	var cfg Config
	for _, c := range kc.Clusters {
		if c.Name == cluster {
			cfg.Host = c.Cluster.Server
			if cfg.CA, err = dataOrFile(c.Cluster.CAData, c.Cluster.CAFile); err != nil {
				return Config{}, err
			}
		}
	}
	for _, u := range kc.Users {
		if u.Name == user {
			if cfg.CertPEM, err = dataOrFile(u.User.CertData, u.User.CertFile); err != nil {
				return Config{}, err
			}
			if cfg.KeyPEM, err = dataOrFile(u.User.KeyData, u.User.KeyFile); err != nil {
				return Config{}, err
			}
			cfg.Token = u.User.Token
		}
	}
	if cfg.Host == "" {
		return Config{}, fmt.Errorf("kubeconfig %q: no cluster for context %q", path, kc.CurrentContext)
	}
	return cfg, nil
}

func dataOrFile(data, file string) ([]byte, error) {
	if data != "" {
		return base64.StdEncoding.DecodeString(data)
	}
	if file != "" {
		return os.ReadFile(file)
	}
	return nil, nil
}

// Client makes the calls.
type Client struct {
	cfg  Config
	http *http.Client
	// watch has no timeout: a watch stays open.
	watch *http.Client
}

// New is a client for cfg.
func New(cfg Config) (*Client, error) {
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if len(cfg.CA) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(cfg.CA) {
			return nil, errors.New("the API server's CA bundle holds no certificate")
		}
		tlsCfg.RootCAs = pool
	}
	if len(cfg.CertPEM) > 0 {
		cert, err := tls.X509KeyPair(cfg.CertPEM, cfg.KeyPEM)
		if err != nil {
			return nil, fmt.Errorf("failed to read the client certificate: %w", err)
		}
		tlsCfg.Certificates = []tls.Certificate{cert}
	}
	tr := &http.Transport{TLSClientConfig: tlsCfg, Proxy: nil, MaxIdleConnsPerHost: 16, IdleConnTimeout: 90 * time.Second}
	return &Client{cfg: cfg, http: &http.Client{Transport: tr, Timeout: 10 * time.Second}, watch: &http.Client{Transport: tr}}, nil
}

// Error is an API error: its status code and message.
type Error struct {
	Code    int
	Reason  string
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Code, e.Reason, e.Message) }

// IsNotFound, IsConflict and IsAlreadyExists classify API errors.
func IsNotFound(err error) bool { return code(err) == http.StatusNotFound }
func IsConflict(err error) bool {
	return code(err) == http.StatusConflict && reason(err) != "AlreadyExists"
}
func IsAlreadyExists(err error) bool {
	return code(err) == http.StatusConflict && reason(err) == "AlreadyExists"
}

func code(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}

func reason(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

func (c *Client) request(ctx context.Context, method, path, contentType string, body []byte) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.cfg.Host, "/")+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	token := c.cfg.Token
	if c.cfg.TokenFile != "" {
		b, err := os.ReadFile(c.cfg.TokenFile)
		if err != nil {
			return nil, fmt.Errorf("failed to read the service account token: %w", err)
		}
		token = strings.TrimSpace(string(b))
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req, nil
}

// Do sends one call and decodes the JSON answer into out (nil: discard).
func (c *Client) Do(ctx context.Context, method, path, contentType string, body []byte, out any) error {
	req, err := c.request(ctx, method, path, contentType, body)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		return statusError(resp.StatusCode, data)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(data, out)
}

func statusError(code int, data []byte) error {
	var st struct {
		Reason  string `json:"reason"`
		Message string `json:"message"`
	}
	_ = json.Unmarshal(data, &st)
	if st.Message == "" {
		st.Message = http.StatusText(code)
	}
	return &Error{Code: code, Reason: st.Reason, Message: st.Message}
}

// Get reads an object.
func (c *Client) Get(ctx context.Context, path string, out any) error {
	return c.Do(ctx, http.MethodGet, path, "", nil, out)
}

// Create posts an object to a collection.
func (c *Client) Create(ctx context.Context, collection string, obj, out any) error {
	b, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	return c.Do(ctx, http.MethodPost, collection, "application/json", b, out)
}

// Update replaces an object (its resourceVersion guards the write).
func (c *Client) Update(ctx context.Context, path string, obj, out any) error {
	b, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	return c.Do(ctx, http.MethodPut, path, "application/json", b, out)
}

// JSONPatch applies an RFC 6902 patch.
func (c *Client) JSONPatch(ctx context.Context, path string, ops any, out any) error {
	b, err := json.Marshal(ops)
	if err != nil {
		return err
	}
	return c.Do(ctx, http.MethodPatch, path, "application/json-patch+json", b, out)
}

// Event is one watch event: ADDED, MODIFIED, DELETED (or ERROR) and the
// object.
type Event struct {
	Type   string          `json:"type"`
	Object json.RawMessage `json:"object"`
}

// Watch streams the events of a list path (with ?watch=true added) from
// resourceVersion until ctx ends or the server closes the stream, which
// the caller answers by listing and watching again.
func (c *Client) Watch(ctx context.Context, path, resourceVersion string, fn func(Event)) error {
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	req, err := c.request(ctx, http.MethodGet, path+sep+"watch=true&allowWatchBookmarks=false&resourceVersion="+resourceVersion, "", nil)
	if err != nil {
		return err
	}
	resp, err := c.watch.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return statusError(resp.StatusCode, data)
	}
	dec := json.NewDecoder(bufio.NewReader(resp.Body))
	for {
		var ev Event
		if err := dec.Decode(&ev); err != nil {
			if ctx.Err() != nil || errors.Is(err, io.EOF) {
				return ctx.Err()
			}
			return err
		}
		fn(ev)
	}
}
