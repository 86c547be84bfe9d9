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
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// maxReview bounds a review's body: the API server's objects are at most
// 1.5 MiB, their review twice that.
const maxReview = 4 << 20

// Server serves the two admission paths over TLS, and probes and metrics
// over plain HTTP on another address.
type Server struct {
	Admitter *Admitter
	// GetCertificate serves the current certificate (Certs, or a mounted
	// one).
	GetCertificate func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	Metrics        *Metrics
	Log            *slog.Logger
	// Ready reports whether the webhook can answer (a certificate loaded).
	Ready func() error
	// ShutdownDelay is how long the webhook keeps answering, unready,
	// after it is told to stop: the API server keeps calling a pod until
	// its endpoint is gone, and a refused connection would be the
	// validating webhook's failurePolicy (Fail).
	ShutdownDelay time.Duration

	stopping atomic.Bool
}

// Handler is the TLS side: /mutate and /validate.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /mutate", s.review("mutate", s.Admitter.Mutate))
	mux.HandleFunc("POST /validate", s.review("validate", s.Admitter.Validate))
	return mux
}

// ProbeHandler is the plain side: /healthz, /readyz, /metrics.
func (s *Server) ProbeHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if s.stopping.Load() {
			http.Error(w, "stopping", http.StatusServiceUnavailable)
			return
		}
		if err := s.Ready(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		s.Metrics.Write(w)
	})
	return mux
}

func (s *Server) review(handler string, admit func(context.Context, *Request) *Response) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		defer func() { s.Metrics.observe(handler, time.Since(start)) }()
		body, err := io.ReadAll(io.LimitReader(r.Body, maxReview+1))
		if err != nil || len(body) > maxReview {
			http.Error(w, "failed to read the AdmissionReview (at most 4 MiB)", http.StatusRequestEntityTooLarge)
			return
		}
		rev, err := decodeReview(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		// The API server says how long it waits (?timeout=10s): answer
		// within it, so that its failurePolicy does not decide instead.
		ctx := r.Context()
		if t, err := time.ParseDuration(r.URL.Query().Get("timeout")); err == nil && t > time.Second {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, t-500*time.Millisecond)
			defer cancel()
		}
		resp := admit(ctx, rev.Request)
		if !resp.Allowed {
			s.Log.Info("Refused an admission", "handler", handler, "kind", rev.Request.Kind.Kind,
				"namespace", rev.Request.Namespace, "name", rev.Request.Name, "message", resp.Result.Message)
		}
		w.Header().Set("Content-Type", "application/json")
		if err := json.NewEncoder(w).Encode(answer(resp)); err != nil {
			s.Log.Error("Failed to write the admission answer", "error", err.Error())
		}
	}
}

// Serve runs both listeners until ctx ends.
func (s *Server) Serve(ctx context.Context, listen, probeListen string) error {
	tlsSrv := &http.Server{Addr: listen, Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second,
		TLSConfig: &tls.Config{GetCertificate: s.GetCertificate, MinVersion: tls.VersionTLS12}}
	probeSrv := &http.Server{Addr: probeListen, Handler: s.ProbeHandler(), ReadHeaderTimeout: 10 * time.Second}
	errs := make(chan error, 2)
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("failed to listen on %s: %w", listen, err)
	}
	pln, err := net.Listen("tcp", probeListen)
	if err != nil {
		ln.Close()
		return fmt.Errorf("failed to listen on %s: %w", probeListen, err)
	}
	s.Log.Info("Serving admission reviews", "address", ln.Addr().String(), "probes", pln.Addr().String())
	go func() { errs <- tlsSrv.ServeTLS(ln, "", "") }()
	go func() { errs <- probeSrv.Serve(pln) }()
	select {
	case <-ctx.Done():
		s.stopping.Store(true)
		s.Log.Info("Stopping: unready, still answering", "delay", s.ShutdownDelay.String())
		time.Sleep(s.ShutdownDelay)
	case err := <-errs:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = tlsSrv.Shutdown(shutdown)
	_ = probeSrv.Shutdown(shutdown)
	return nil
}
