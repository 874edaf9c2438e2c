package webhook

import (
	"context"
	"errors"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestSignVerify(t *testing.T) {
	secret := "whsec-test-DO-NOT-USE"
	body := []byte(`{"id":"evt_1","type":"payment.succeeded"}`)
	now := time.Unix(1_700_000_000, 0)
	good := Sign([]byte(secret), now, body)
	// Golden vector computed independently with openssl:
	// printf '%s' '1700000000.{"id":"evt_1","type":"payment.succeeded"}' | openssl dgst -sha256 -hmac 'whsec-test-DO-NOT-USE'
	const want = "t=1700000000,v1=de4c0abfe9c360405b8a06178ec10303082bea46976b8c74f0cc5cf9cfeaf68e"
	if good != want {
		t.Fatalf("Sign = %q, want %q", good, want)
	}
	tests := []struct {
		name   string
		secret string
		header string
		body   []byte
		now    time.Time
		tol    time.Duration
		want   error
	}{
		{"valid", secret, good, body, now, 0, nil},
		{"valid within tolerance", secret, good, body, now.Add(4 * time.Minute), 0, nil},
		{"too old", secret, good, body, now.Add(6 * time.Minute), 0, ErrTooOld},
		{"from the future", secret, good, body, now.Add(-6 * time.Minute), 0, ErrTooOld},
		{"tolerance disabled", secret, good, body, now.Add(100 * time.Hour), -1, nil},
		{"wrong secret", "other", good, body, now, 0, ErrBadSignature},
		{"tampered body", secret, good, []byte(`{"id":"evt_2"}`), now, 0, ErrBadSignature},
		{"second v1 matches", secret, "t=1700000000,v1=00ff," + good[len("t=1700000000,"):], body, now, 0, nil},
		{"empty header", secret, "", body, now, 0, ErrNoSignature},
		{"no v1", secret, "t=1700000000", body, now, 0, ErrNoSignature},
		{"no t", secret, good[len("t=1700000000,"):], body, now, 0, ErrNoSignature},
		{"t twice", secret, "t=1,t=2,v1=00", body, now, -1, ErrNoSignature},
		{"bad t", secret, "t=abc,v1=00", body, now, 0, ErrNoSignature},
		{"non-hex v1", secret, "t=1700000000,v1=zz", body, now, 0, ErrBadSignature},
		{"timestamp changed", secret, strings.Replace(good, "t=1700000000", "t=1700000001", 1), body, now, 0, ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := verifyAt(tt.now, []byte(tt.secret), tt.header, tt.body, tt.tol)
			if !errors.Is(err, tt.want) {
				t.Fatalf("verify = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestVerifyNow(t *testing.T) {
	body := []byte("x")
	if err := Verify("k", Sign([]byte("k"), time.Now(), body), body, 0); err != nil {
		t.Fatal(err)
	}
}

func TestSenderSend(t *testing.T) {
	secret := []byte("whsec-test-DO-NOT-USE")
	var gotSig, gotBody string
	status := http.StatusNoContent
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		gotBody, gotSig = string(b), r.Header.Get(Header)
		if r.Header.Get("Paymux-Event-Id") != "evt_1" || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("headers = %v", r.Header)
		}
		w.WriteHeader(status)
	}))
	defer srv.Close()
	s := &Sender{Timeout: 2 * time.Second}
	body := []byte(`{"id":"evt_1"}`)
	if err := s.Send(context.Background(), srv.URL, [][]byte{secret}, "evt_1", body); err != nil {
		t.Fatal(err)
	}
	if gotBody != string(body) {
		t.Fatalf("body = %q", gotBody)
	}
	if err := Verify(string(secret), gotSig, []byte(gotBody), 0); err != nil {
		t.Fatalf("Verify of a sent delivery: %v", err)
	}
	status = http.StatusInternalServerError
	if err := s.Send(context.Background(), srv.URL, [][]byte{secret}, "evt_1", body); err == nil || !strings.Contains(err.Error(), "500") {
		t.Fatalf("Send to a failing merchant = %v, want an error naming 500", err)
	}
}

// TestSenderDoesNotFollowRedirects: a merchant URL answering 3xx is a failed delivery, and the
// signed body never reaches the redirect's target, with the default client or one passed in.
func TestSenderDoesNotFollowRedirects(t *testing.T) {
	var reached atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
	}))
	defer target.Close()
	for _, code := range []int{http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, target.URL+"/elsewhere", code)
		}))
		for _, s := range []*Sender{{Timeout: 2 * time.Second}, {Client: &http.Client{}, Timeout: 2 * time.Second}} {
			err := s.Send(context.Background(), redirector.URL, [][]byte{[]byte("k")}, "evt", []byte("{}"))
			if err == nil || !strings.Contains(err.Error(), strconv.Itoa(code)) || !strings.Contains(err.Error(), "redirect") {
				t.Errorf("%d (own client %v): Send = %v, want a failed delivery naming the redirect", code, s.Client != nil, err)
			}
		}
		redirector.Close()
	}
	if n := reached.Load(); n != 0 {
		t.Fatalf("the redirect target received %d deliveries", n)
	}
}

func TestSenderTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	s := &Sender{Timeout: 100 * time.Millisecond}
	start := time.Now()
	if err := s.Send(context.Background(), srv.URL, [][]byte{[]byte("k")}, "evt", []byte("{}")); err == nil {
		t.Fatal("Send to a hanging merchant succeeded")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Send took %v despite a 100ms timeout", d)
	}
}

func FuzzVerify(f *testing.F) {
	f.Add("t=1700000000,v1=00", []byte("{}"))
	f.Add(Sign([]byte("k"), time.Unix(1700000000, 0), []byte("{}")), []byte("{}"))
	f.Add("t=,v1=,v1=,,=", []byte(""))
	f.Fuzz(func(t *testing.T, header string, body []byte) {
		_ = Verify("k", header, body, -1) // must not panic
	})
}

// TestSignAllRotation: every current secret signs, so a receiver with only the old secret and
// one with only the new both accept the delivery; a receiver with neither refuses it.
func TestSignAllRotation(t *testing.T) {
	body := []byte(`{"id":"evt_1"}`)
	h := SignAll([][]byte{[]byte("old-secret-DO-NOT-USE"), []byte("new-secret-DO-NOT-USE")}, time.Now(), body)
	if strings.Count(h, "v1=") != 2 {
		t.Fatalf("header %q: want two v1 signatures", h)
	}
	for _, s := range []string{"old-secret-DO-NOT-USE", "new-secret-DO-NOT-USE"} {
		if err := Verify(s, h, body, 0); err != nil {
			t.Errorf("a receiver with %s refuses: %v", s, err)
		}
	}
	if err := VerifyAny([]string{"other-DO-NOT-USE", "new-secret-DO-NOT-USE"}, h, body, 0); err != nil {
		t.Errorf("VerifyAny with the new secret among others: %v", err)
	}
	if err := VerifyAny([]string{"other-DO-NOT-USE", "third-DO-NOT-USE"}, h, body, 0); !errors.Is(err, ErrBadSignature) {
		t.Errorf("VerifyAny with neither secret: %v", err)
	}
	if err := VerifyAny([]string{"old-secret-DO-NOT-USE"}, h, []byte(`{"id":"evt_2"}`), 0); !errors.Is(err, ErrBadSignature) {
		t.Errorf("VerifyAny of another body: %v", err)
	}
}

// TestStandardLibraryOnly: a receiver imports this package to verify deliveries; it must not
// pull in any of paymux's other packages or any third-party module.
func TestStandardLibraryOnly(t *testing.T) {
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path := strings.Trim(imp.Path.Value, `"`)
			if first, _, _ := strings.Cut(path, "/"); strings.Contains(first, ".") {
				t.Errorf("%s imports %s: the receiver's package must use the standard library only", name, path)
			}
		}
	}
}
