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
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
)

// listHTTP fetches the smart-HTTP advertisement with go-git's http
// transport, through a client of its own: proxies come from HTTPS_PROXY,
// HTTP_PROXY and NO_PROXY, and ctx bounds the request.
func listHTTP(ctx context.Context, rawURL string, auth Auth) (*packp.AdvRefs, error) {
	ep, err := transport.NewEndpoint(rawURL)
	if err != nil {
		return nil, err
	}
	tr := newHTTPTransport()
	defer tr.CloseIdleConnections()
	client := githttp.NewClient(&http.Client{Transport: tr})

	var method transport.AuthMethod
	if auth.Username != "" || auth.Password != "" {
		method = &githttp.BasicAuth{Username: auth.Username, Password: auth.Password}
	}
	session, err := client.NewUploadPackSession(ep, method)
	if err != nil {
		return nil, err
	}
	defer func() { _ = session.Close() }()
	ar, err := session.AdvertisedReferencesContext(ctx)
	if errors.Is(err, transport.ErrEmptyRemoteRepository) {
		return packp.NewAdvRefs(), nil
	}
	return ar, err
}

// newHTTPTransport returns a private copy of net/http's default transport
// (proxy from the environment, TLS handshake timeout, HTTP/2) that dials
// within dialTimeout.
func newHTTPTransport() *http.Transport {
	tr := &http.Transport{Proxy: http.ProxyFromEnvironment}
	if def, ok := http.DefaultTransport.(*http.Transport); ok {
		tr = def.Clone()
	}
	tr.DialContext = (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext
	return tr
}
