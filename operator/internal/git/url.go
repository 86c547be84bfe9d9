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
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

const supportedForms = "use an https://, http://, ssh:// or git:// URL, or the scp-like form user@host:path"

// endpoint is a parsed, validated repository URL.
type endpoint struct {
	scheme string // https, http, ssh or git; scp-like URLs are ssh
	user   string // ssh user, or the http username written in the URL
	host   string // without IPv6 brackets
	port   int    // 0 means the scheme's default
	path   string // as sent to the server
	scp    bool   // written as user@host:path
}

// scpLikeRE matches user@host:path; the host may be a bracketed IPv6 address.
var scpLikeRE = regexp.MustCompile(`^([^@/:\s]+)@(\[[0-9A-Fa-f:.%]+\]|[^@/:\[\]\s]+):(.+)$`)

// ValidateURL checks a Repository URL: https://, http://, ssh://, git:// or
// scp-like user@host:path. Anything else (local paths, file://, a URL that
// carries a password) is an *Error with Reason InvalidURL. The message never
// repeats the URL, so it cannot leak what the user put in it.
func ValidateURL(rawURL string) error {
	_, err := parseEndpoint(rawURL)
	if err != nil {
		return err
	}
	return nil
}

func invalidURL(format string, args ...any) *Error {
	return newError(InvalidURL, "invalid repository URL: "+format, args...)
}

func parseEndpoint(raw string) (endpoint, *Error) {
	if raw == "" {
		return endpoint{}, invalidURL("it is empty; %s", supportedForms)
	}
	if strings.IndexFunc(raw, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return endpoint{}, invalidURL("it contains whitespace or control characters")
	}
	if i := strings.Index(raw, "://"); i >= 0 {
		return parseSchemeURL(raw, strings.ToLower(raw[:i]))
	}
	if m := scpLikeRE.FindStringSubmatch(raw); m != nil {
		return endpoint{scheme: "ssh", user: m[1], host: strings.Trim(m[2], "[]"), path: m[3], scp: true}, nil
	}
	if before, _, ok := strings.Cut(raw, ":"); ok && !strings.ContainsAny(before, "/@") {
		return endpoint{}, invalidURL("an scp-like URL needs a user, as in git@host:path")
	}
	return endpoint{}, invalidURL("local paths and other forms are not supported; %s", supportedForms)
}

func parseSchemeURL(raw, scheme string) (endpoint, *Error) {
	switch scheme {
	case "https", "http", "ssh", "git":
	default:
		return endpoint{}, invalidURL("the scheme %q is not supported; %s", scheme, supportedForms)
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse's error repeats the URL verbatim, password and all.
		return endpoint{}, invalidURL("it cannot be parsed as a URL; %s", supportedForms)
	}
	ep := endpoint{scheme: scheme, host: u.Hostname(), path: u.Path}
	if u.User != nil {
		if _, hasPassword := u.User.Password(); hasPassword {
			return endpoint{}, invalidURL("it carries a password; put credentials in the Secret that spec.auth names, not in spec.url")
		}
		if scheme == "git" {
			return endpoint{}, invalidURL("git:// URLs take no user")
		}
		ep.user = u.User.Username()
	}
	if ep.host == "" {
		return endpoint{}, invalidURL("it has no host")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return endpoint{}, invalidURL("the port %q is not between 1 and 65535", p)
		}
		ep.port = n
	}
	if u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return endpoint{}, invalidURL("it must not have a query or a fragment")
	}
	if ep.path == "" || ep.path == "/" {
		return endpoint{}, invalidURL("it has no repository path")
	}
	// Like git, ssh://host/~user/repo names a path relative to a home directory.
	if scheme == "ssh" && strings.HasPrefix(ep.path, "/~") {
		ep.path = ep.path[1:]
	}
	return ep, nil
}

// defaultPort returns the port a scheme uses when the URL names none.
func (e endpoint) defaultPort() int {
	switch e.scheme {
	case "https":
		return 443
	case "http":
		return 80
	case "ssh":
		return 22
	default:
		return 9418
	}
}

// hostPort is the address to dial.
func (e endpoint) hostPort() string {
	port := e.port
	if port == 0 {
		port = e.defaultPort()
	}
	return net.JoinHostPort(e.host, strconv.Itoa(port))
}

// String is the URL for messages: no userinfo for scheme URLs (Sanitize
// would strip it anyway), the user of an scp-like URL kept since it is
// never a secret.
func (e endpoint) String() string {
	host := e.host
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if e.scp {
		return strconv.Quote(e.user + "@" + host + ":" + e.path)
	}
	if e.port != 0 {
		host = net.JoinHostPort(e.host, strconv.Itoa(e.port))
	}
	return strconv.Quote(e.scheme + "://" + host + e.path)
}
