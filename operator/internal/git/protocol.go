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
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
)

// flushPkt ends the client's side of the upload-pack conversation: after the
// advertisement, a flush instead of "want" lines means "nothing, thanks".
const flushPkt = "0000"

// errEmptyStream means the server closed the stream before advertising
// anything, which is how git daemon and git-upload-pack over ssh refuse a
// repository they do not have.
var errEmptyStream = errors.New("the server closed the connection without advertising refs")

// pktLine frames payload as a git pkt-line.
func pktLine(payload string) string {
	return fmt.Sprintf("%04x%s", len(payload)+4, payload)
}

// decodeAdvertisement reads the ref advertisement of git-upload-pack
// (protocol v0/v1; the client never asks for v2). An empty repository
// decodes to an empty advertisement.
func decodeAdvertisement(r io.Reader) (*packp.AdvRefs, error) {
	br := bufio.NewReader(r)
	// A server that refuses sends a single "ERR <message>" pkt-line, which
	// the advertisement decoder would report as a malformed hash. Peek only
	// as far as the first pkt-line reaches: an empty repository's
	// advertisement is a lone flush-pkt, after which the server waits.
	if msg, ok := peekErrLine(br); ok {
		return nil, &serverError{message: msg}
	}
	ar := packp.NewAdvRefs()
	switch err := ar.Decode(br); {
	case errors.Is(err, packp.ErrEmptyAdvRefs):
		return packp.NewAdvRefs(), nil
	case errors.Is(err, packp.ErrEmptyInput):
		return nil, errEmptyStream
	case err != nil:
		return nil, fmt.Errorf("failed to decode the ref advertisement: %w", err)
	}
	return ar, nil
}

// peekErrLine reads the first pkt-line if it is an ERR line, and returns its
// message.
func peekErrLine(br *bufio.Reader) (string, bool) {
	head, err := br.Peek(4)
	if err != nil {
		return "", false
	}
	n, err := strconv.ParseUint(string(head), 16, 16)
	if err != nil || n < 8 {
		return "", false
	}
	if head, err = br.Peek(8); err != nil || string(head[4:]) != "ERR " {
		return "", false
	}
	line := make([]byte, n)
	if _, err := io.ReadFull(br, line); err != nil {
		return "", false
	}
	return strings.TrimSpace(string(line[8:])), true
}

// serverError is a refusal the git server explained.
type serverError struct{ message string }

func (e *serverError) Error() string { return "the server refused: " + e.message }

// dial connects to hostPort and arranges for the connection to close when
// ctx ends, which unblocks every read and write on it (the ssh handshake
// included, which has no context of its own).
func dial(ctx context.Context, hostPort string) (net.Conn, func(), error) {
	d := net.Dialer{Timeout: dialTimeout}
	conn, err := d.DialContext(ctx, "tcp", hostPort)
	if err != nil {
		return nil, nil, err
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	return conn, func() { stop(); _ = conn.Close() }, nil
}

// listGitDaemon speaks the git:// protocol: one request pkt-line naming the
// service, path and host, answered by the advertisement.
func listGitDaemon(ctx context.Context, ep endpoint) (*packp.AdvRefs, error) {
	conn, closeConn, err := dial(ctx, ep.hostPort())
	if err != nil {
		return nil, err
	}
	defer closeConn()
	host := ep.host
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if ep.port != 0 {
		host += ":" + strconv.Itoa(ep.port)
	}
	req := pktLine("git-upload-pack " + ep.path + "\x00host=" + host + "\x00")
	if _, err := io.WriteString(conn, req); err != nil {
		return nil, err
	}
	ar, err := decodeAdvertisement(conn)
	if errors.Is(err, errEmptyStream) {
		return nil, &Error{Reason: Failed, Message: fmt.Sprintf(
			"repository not found at %s: the git daemon serves no repository at that path (or does not export it)", ep)}
	}
	if err != nil {
		return nil, err
	}
	_, _ = io.WriteString(conn, flushPkt)
	return ar, nil
}

// limitedBuffer keeps the first max bytes written to it; ssh copies the
// remote stderr into it from another goroutine.
type limitedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

func (b *limitedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
