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
	"fmt"
)

// Auth methods: the values of a Repository's spec.auth.method (the API
// enum) and of a run spec's repository.authMethod.
const (
	MethodSSH   = "ssh"
	MethodHTTPS = "https"
	MethodToken = "token"
)

// Keys of a Repository's credentials Secret.
const (
	KeySSHPrivateKey = "ssh-privatekey"
	KeyToken         = "token"
	KeyUsername      = "username"
	KeyPassword      = "password"
)

// DefaultTokenUsername is the user name sent with a token when the Secret
// has no username key.
const DefaultTokenUsername = "oauth2"

// SecretData reads one key of the credentials Secret: its value, or nil
// (and no error) when the Secret has no such key or it is empty.
type SecretData func(key string) ([]byte, error)

// MissingKeyError says that the credentials Secret lacks what the auth
// method needs; the caller names the Secret (the controller) or the
// directory it is mounted at (the runner).
type MissingKeyError struct {
	// Method is the auth method.
	Method string
	// Keys names the key, or the alternatives, that the method needs.
	Keys string
}

func (e *MissingKeyError) Error() string {
	return fmt.Sprintf("no key %s, which auth.method %s needs", e.Keys, e.Method)
}

// Credentials resolves the git credentials of auth method from the
// Secret's data: the controller reads the Secret through the API, the
// runner reads the files it is mounted as. ssh takes ssh-privatekey;
// https and token take token (with username, default
// DefaultTokenUsername); https also takes username and password. An
// empty method means anonymous. A missing key is a *MissingKeyError; an
// error of data is returned as is. The known_hosts of ssh come from
// elsewhere (a ConfigMap) and are the caller's to add.
func Credentials(method string, data SecretData) (Auth, error) {
	var auth Auth
	read := func(keys ...string) ([][]byte, error) {
		out := make([][]byte, len(keys))
		for i, k := range keys {
			v, err := data(k)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	}
	switch method {
	case "":
		return auth, nil
	case MethodSSH:
		v, err := read(KeySSHPrivateKey)
		if err != nil {
			return auth, err
		}
		if len(v[0]) == 0 {
			return auth, &MissingKeyError{Method: method, Keys: KeySSHPrivateKey}
		}
		auth.SSHPrivateKey = v[0]
	case MethodHTTPS, MethodToken:
		v, err := read(KeyToken, KeyUsername, KeyPassword)
		if err != nil {
			return auth, err
		}
		token, user, password := v[0], v[1], v[2]
		switch {
		case len(token) > 0:
			auth.Username, auth.Password = string(user), string(token)
			if auth.Username == "" {
				auth.Username = DefaultTokenUsername
			}
		case method == MethodHTTPS && len(password) > 0:
			auth.Username, auth.Password = string(user), string(password)
		case method == MethodHTTPS:
			return auth, &MissingKeyError{Method: method, Keys: "token (or username and password)"}
		default:
			return auth, &MissingKeyError{Method: method, Keys: KeyToken}
		}
	default:
		return auth, fmt.Errorf("auth method %q is not %s, %s or %s", method, MethodSSH, MethodHTTPS, MethodToken)
	}
	return auth, nil
}
