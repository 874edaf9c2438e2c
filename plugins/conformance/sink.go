package conformance

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/paymux/paymux/core"
)

// received is one notification the kit's endpoint handled.
type received struct {
	path string // the URL path it was posted to
	req  *core.NotificationRequest
	res  *core.NotificationResult // the final result (after Confirm, when the first was Pending)
	err  error
	dup  bool // acknowledged as a verified duplicate of a processed notification
}

// sink is the kit's notify endpoint: it plays the host's /notify/{account}, handing each POST
// to ParseNotification and answering with the provider's ack (503 when the provider could not
// decide, so that the wallet retries).
type sink struct {
	h   Harness
	url string

	mu        sync.Mutex
	got       []received
	processed map[string]bool // dedupe keys of verified notifications, as the host's store keeps them
	changed   chan struct{}
}

func newSink(t *testing.T, h Harness) *sink {
	s := &sink{h: h, changed: make(chan struct{}), processed: map[string]bool{}}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(srv.Close)
	s.url = srv.URL
	return s
}

func (s *sink) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "read error", http.StatusBadRequest)
		return
	}
	req := &core.NotificationRequest{Account: s.h.Account, Method: s.h.Method, Header: r.Header.Clone(), Query: r.URL.RawQuery,
		Body: body, NotifyPath: r.URL.EscapedPath()}
	res, perr := s.parse(r.Context(), req)
	dup := false
	// As the host does: a Pending result is a verified duplicate when its dedupe key was
	// processed, else it is asked again with Confirm. Its ack is sent only in the first case.
	if perr == nil && res != nil && res.Pending && !res.Verified {
		s.mu.Lock()
		dup = res.DedupeKey != "" && s.processed[res.DedupeKey]
		s.mu.Unlock()
		if !dup {
			confirm := *req
			confirm.Confirm = true
			res, perr = s.parse(r.Context(), &confirm)
			if perr == nil && res != nil && res.Pending && !res.Verified {
				res, perr = nil, core.Errorf(core.EINTERNAL, "conformance: still Pending with Confirm set")
			}
		}
	}
	s.mu.Lock()
	if perr == nil && res != nil && res.Verified && res.DedupeKey != "" {
		s.processed[res.DedupeKey] = true
	}
	s.got = append(s.got, received{path: r.URL.Path, req: req, res: res, err: perr, dup: dup})
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	if perr != nil || res == nil {
		http.Error(w, "try again", http.StatusServiceUnavailable)
		return
	}
	if res.Ack.ContentType != "" {
		w.Header().Set("Content-Type", res.Ack.ContentType)
	}
	status := res.Ack.Status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = w.Write(res.Ack.Body)
}

func (s *sink) parse(ctx context.Context, req *core.NotificationRequest) (*core.NotificationResult, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	return s.h.Provider.ParseNotification(ctx, req)
}

// waitPath returns every notification posted to path once at least one arrived, waiting up to
// d; false when none came.
func (s *sink) waitPath(ctx context.Context, d time.Duration, path string) ([]received, bool) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for {
		s.mu.Lock()
		ch := s.changed
		var out []received
		for _, r := range s.got {
			if r.path == path {
				out = append(out, r)
			}
		}
		s.mu.Unlock()
		if len(out) > 0 {
			return out, true
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, false
		}
	}
}

// waitFor returns the first notification (after skip earlier matches) whose result has an event
// satisfying match, waiting up to d.
func (s *sink) waitFor(ctx context.Context, d time.Duration, match func(core.NotificationEvent) bool) (received, bool) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for {
		s.mu.Lock()
		ch := s.changed
		for _, r := range s.got {
			if r.res == nil || !r.res.Verified {
				continue
			}
			for _, e := range r.res.Events {
				if match(e) {
					s.mu.Unlock()
					return r, true
				}
			}
		}
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return received{}, false
		}
	}
}

// tamper is the default Tamper: in a form body it changes an amount (or else the last field
// in key order except sign and sign_type); other bodies get their last byte flipped.
func tamper(body []byte) []byte {
	v, err := url.ParseQuery(string(body))
	if err != nil || len(v) == 0 {
		out := bytes.Clone(body)
		if len(out) > 0 {
			out[len(out)-1] ^= 0x01
		}
		return out
	}
	for _, k := range []string{"total_fee", "return_amount", "amount", "trade_status"} {
		if x := v.Get(k); x != "" {
			v.Set(k, x+"1")
			return []byte(v.Encode())
		}
	}
	keys := make([]string, 0, len(v))
	for k := range v {
		if k != "sign" && k != "sign_type" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	if len(keys) > 0 {
		k := keys[len(keys)-1]
		v.Set(k, v.Get(k)+"x")
	}
	return []byte(v.Encode())
}
