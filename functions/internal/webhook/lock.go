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
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"sync"
	"time"

	"github.com/cloud37/ansible-playbook-operator/functions/internal/kube"
	"github.com/cloud37/ansible-playbook-operator/functions/internal/lock"
)

// LockSource holds the ImageLock of lock-only admission, read from a
// ConfigMap key (applied from Git like any manifest) and reloaded on every
// change through a watch.
type LockSource struct {
	Namespace, Name, Key string

	mu  sync.RWMutex
	lk  *lock.Lock
	gen string
	log *slog.Logger
}

// NewLockSource reads NS/NAME:KEY.
func NewLockSource(namespace, name, key string, log *slog.Logger) *LockSource {
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &LockSource{Namespace: namespace, Name: name, Key: key, log: log, gen: "not read yet"}
}

// Current is the lock enforced and its generation: the ConfigMap's
// resourceVersion and the lock's content digest. A nil lock (no ConfigMap,
// no key, never a valid lock) refuses everything: lock-only admission
// fails closed.
func (s *LockSource) Current() (*lock.Lock, string) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.lk, s.gen
}

type configMap struct {
	Metadata struct {
		ResourceVersion string `json:"resourceVersion"`
	} `json:"metadata"`
	Data map[string]string `json:"data"`
}

// load takes a ConfigMap (nil: deleted). A lock that does not parse keeps
// the last good one: the reviewed lock stays enforced.
func (s *LockSource) load(cm *configMap) {
	s.mu.Lock()
	defer s.mu.Unlock()
	where := fmt.Sprintf("ConfigMap %s/%s key %s", s.Namespace, s.Name, s.Key)
	if cm == nil {
		s.lk, s.gen = nil, where+" does not exist"
		s.log.Warn("Lock ConfigMap deleted: refusing every image until it is back", "configMap", s.Namespace+"/"+s.Name)
		return
	}
	text, ok := cm.Data[s.Key]
	if !ok {
		s.lk, s.gen = nil, where+" is missing"
		s.log.Warn("Lock key missing: refusing every image", "configMap", s.Namespace+"/"+s.Name, "key", s.Key)
		return
	}
	lk, err := lock.Parse([]byte(text))
	if err != nil {
		s.log.Error("Lock ConfigMap holds no valid ImageLock: keeping the last one", "configMap", s.Namespace+"/"+s.Name, "error", err.Error(), "enforced", s.gen)
		return
	}
	sum := sha256.Sum256([]byte(text))
	s.lk = lk
	s.gen = fmt.Sprintf("%s resourceVersion %s, %d entries, content sha256:%s", where, cm.Metadata.ResourceVersion, lk.Len(), hex.EncodeToString(sum[:6]))
	s.log.Info("Loaded the lock", "generation", s.gen)
}

// Run keeps the lock current until ctx ends: a list, then a watch from
// its resourceVersion, again after every error or closed stream.
func (s *LockSource) Run(ctx context.Context, c *kube.Client) {
	list := fmt.Sprintf("/api/v1/namespaces/%s/configmaps?fieldSelector=%s", url.PathEscape(s.Namespace), url.QueryEscape("metadata.name="+s.Name))
	for ctx.Err() == nil {
		var l struct {
			Metadata struct {
				ResourceVersion string `json:"resourceVersion"`
			} `json:"metadata"`
			Items []configMap `json:"items"`
		}
		if err := c.Get(ctx, list, &l); err != nil {
			s.log.Error("Failed to list the lock ConfigMap", "error", err.Error())
			sleepCtx(ctx, 2*time.Second)
			continue
		}
		if len(l.Items) == 0 {
			s.load(nil)
		} else {
			s.load(&l.Items[0])
		}
		err := c.Watch(ctx, list, l.Metadata.ResourceVersion, func(ev kube.Event) {
			switch ev.Type {
			case "ADDED", "MODIFIED":
				var cm configMap
				if json.Unmarshal(ev.Object, &cm) == nil {
					s.load(&cm)
				}
			case "DELETED":
				s.load(nil)
			}
		})
		if err != nil && ctx.Err() == nil {
			s.log.Info("Lock watch ended; listing again", "error", err.Error())
			sleepCtx(ctx, time.Second)
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
