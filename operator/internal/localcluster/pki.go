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

package localcluster

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"time"
)

// keyPair is a PEM certificate and its PEM private key.
type keyPair struct{ cert, key []byte }

// certSpec is one certificate of the node's PKI.
type certSpec struct {
	file   string // base name of the .crt and .key files
	cn     string
	orgs   []string
	ips    []net.IP
	dns    []string
	server bool // serverAuth as well as clientAuth
}

// pki is the node's certificate authority and every certificate signed by
// it; the service account signing key is separate.
type pki struct {
	ca     keyPair
	certs  map[string]keyPair
	saKey  []byte // PEM private key signing service account tokens
	saPub  []byte
	caCert *x509.Certificate
}

// certSpecs are the node's certificates: the API server's serving
// certificate (its bridge address, loopback and the `kubernetes` Service's
// VIP and names), one client certificate per component with the identity
// the default RBAC expects, and the kubelet's serving certificate.
func certSpecs(l Layout) []certSpec {
	host := net.IP(l.HostIP.AsSlice())
	return []certSpec{
		{file: "apiserver", cn: "kube-apiserver", server: true,
			ips: []net.IP{host, net.IPv4(127, 0, 0, 1), net.IP(l.KubernetesServiceIP().AsSlice())},
			dns: []string{"kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local", "localhost"}},
		{file: "admin", cn: "localcluster-admin", orgs: []string{"system:masters"}},
		{file: "apiserver-kubelet-client", cn: "kube-apiserver-kubelet-client", orgs: []string{"system:masters"}},
		{file: "kcm", cn: "system:kube-controller-manager"},
		{file: "scheduler", cn: "system:kube-scheduler"},
		{file: "kube-proxy", cn: "system:kube-proxy"},
		{file: "kubelet", cn: "system:node:" + l.NodeName, orgs: []string{"system:nodes"}},
		{file: "kubelet-serving", cn: l.NodeName, server: true, ips: []net.IP{host}, dns: []string{l.NodeName}},
	}
}

// newPKI generates the authority, every certificate of specs and the
// service account key, valid for validity from now.
func newPKI(specs []certSpec, now time.Time, validity time.Duration) (*pki, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "localcluster-ca"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	p := &pki{certs: map[string]keyPair{}, caCert: caCert}
	if p.ca, err = encodePair(caDER, caKey); err != nil {
		return nil, err
	}
	for _, s := range specs {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		usage := []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
		if s.server {
			usage = append(usage, x509.ExtKeyUsageServerAuth)
		}
		tmpl := &x509.Certificate{
			SerialNumber: serial(),
			Subject:      pkix.Name{CommonName: s.cn, Organization: s.orgs},
			NotBefore:    now.Add(-time.Hour),
			NotAfter:     now.Add(validity),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  usage,
			IPAddresses:  s.ips,
			DNSNames:     s.dns,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			return nil, fmt.Errorf("failed to sign certificate %q: %w", s.file, err)
		}
		if p.certs[s.file], err = encodePair(der, key); err != nil {
			return nil, err
		}
	}
	saKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	sa, err := encodePair(nil, saKey)
	if err != nil {
		return nil, err
	}
	pub, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		return nil, err
	}
	p.saKey, p.saPub = sa.key, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})
	return p, nil
}

func encodePair(der []byte, key *ecdsa.PrivateKey) (keyPair, error) {
	k, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return keyPair{}, err
	}
	var kp keyPair
	if der != nil {
		kp.cert = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	}
	kp.key = pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: k})
	return kp, nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return n
}
