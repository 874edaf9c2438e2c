package host_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"gopkg.in/yaml.v3"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host"
	"github.com/paymux/paymux/host/httpapi"
	"github.com/paymux/paymux/host/store"
	"github.com/paymux/paymux/host/webhook"
)

const (
	testAPIKey        = "pmx-test-key-DO-NOT-USE"
	testWebhookSecret = "whsec-test-DO-NOT-USE"
)

// staticProviders satisfies host.Providers from a fixed map, in process.
type staticProviders struct {
	mu   sync.Mutex
	accs map[string]core.Provider
	down map[string]bool
}

func (s *staticProviders) Provider(ctx context.Context, account string) (core.Provider, *core.Description, error) {
	s.mu.Lock()
	p, ok := s.accs[account]
	down := s.down[account]
	s.mu.Unlock()
	if !ok {
		return nil, nil, core.Errorf(core.ENOTFOUND, "unknown account %q", account)
	}
	if down {
		return nil, nil, core.Errorf(core.EUNAVAILABLE, "plugin for %s is down", account)
	}
	d, err := p.Describe(ctx)
	if err != nil {
		return nil, nil, err
	}
	return p, d, nil
}

func (s *staticProviders) setDown(account string, down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down == nil {
		s.down = map[string]bool{}
	}
	s.down[account] = down
}

// webhookSink is the merchant's webhook endpoint: it verifies every delivery.
type webhookSink struct {
	t      testing.TB
	srv    *httptest.Server
	mu     sync.Mutex
	events []webhook.Event
	fail   int // answer 500 to this many deliveries first
	got    chan webhook.Event
}

// waitLimit bounds the tests' waits for a condition. It is spent only when the condition never
// comes, so it is generous: a loaded 2-core CI machine is slow, and a timed-out wait is a flake.
const waitLimit = 30 * time.Second

func newWebhookSink(t testing.TB) *webhookSink {
	s := &webhookSink{t: t, got: make(chan webhook.Event, 1000)}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := webhook.Verify(testWebhookSecret, r.Header.Get(webhook.Header), body, 0); err != nil {
			t.Errorf("webhook delivery with a bad signature: %v", err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		if s.fail > 0 {
			s.fail--
			s.mu.Unlock()
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		var e webhook.Event
		if err := json.Unmarshal(body, &e); err != nil {
			t.Errorf("webhook body: %v", err)
		}
		s.events = append(s.events, e)
		s.mu.Unlock()
		s.got <- e
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// waitFor waits for an event of type typ about id (payment or refund id in data).
func (s *webhookSink) waitFor(t testing.TB, typ, id string) webhook.Event {
	t.Helper()
	deadline := time.After(waitLimit)
	for {
		s.mu.Lock()
		for _, e := range s.events {
			if e.Type == typ && strings.Contains(string(e.Data), `"`+id+`"`) {
				s.mu.Unlock()
				return e
			}
		}
		s.mu.Unlock()
		select {
		case <-s.got:
		case <-deadline:
			t.Fatalf("no %s webhook for %s within %v", typ, id, waitLimit)
		}
	}
}

// waitDelivered waits until every event stored about payment id is delivered. The dispatcher
// marks an event delivered only after the sink answered it, so afterwards the sink holds every
// event the host had stored about id: what a test that counts them (no duplicate) must wait
// for, rather than for some time to pass.
func (e *env) waitDelivered(t testing.TB, id string) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		var page host.Page[host.Event]
		e.call("GET", "/v1/events?limit=100&payment_id="+id, nil, nil).decode(t, &page)
		done := len(page.Data) > 0
		for _, ev := range page.Data {
			done = done && ev.Status == string(store.EventDelivered)
		}
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("events about %s not all delivered within %v: %+v", id, waitLimit, page.Data)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (s *webhookSink) count(typ, id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, e := range s.events {
		if e.Type == typ && strings.Contains(string(e.Data), `"`+id+`"`) {
			n++
		}
	}
	return n
}

// env is one paymux host under test: SQLite store, service, API over httptest, dispatcher.
type env struct {
	t         testing.TB
	store     store.Store
	svc       *host.Service
	api       *httpapi.API
	srv       *httptest.Server
	providers *staticProviders
	sink      *webhookSink
	disp      *host.Dispatcher
	oas       validator.Validator
	client    *http.Client
}

type envOptions struct {
	accounts map[string]core.Provider
	regions  map[string][]host.RegionMethod
	policy   host.RetryPolicy
	// onFinal is host.Options.OnFinal.
	onFinal func(kind, status, method string)
	// onDelivery is DispatcherOptions.OnDelivery.
	onDelivery func(endpoint, outcome string)
	// store is the store to use; nil means a fresh one (see newTestStore).
	store store.Store
	// shadows and admin are httpapi.Options.Shadows and Admin.
	shadows httpapi.Shadows
}

var (
	oasOnce sync.Once
	oasDoc  libopenapi.Document
	oasErr  error
)

// strictOpenAPI returns the document with every object schema that lists properties and says
// nothing of others closed to them (additionalProperties: false). The published document leaves
// response objects open, so that clients accept fields added later (docs/api.md,
// "Compatibility"); the tests validate against this strict copy, so that a field the host sends
// but the document does not declare still fails them.
func strictOpenAPI(doc []byte) ([]byte, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(doc, &root); err != nil {
		return nil, err
	}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.MappingNode {
			hasProps, hasAdditional := false, false
			for i := 0; i+1 < len(n.Content); i += 2 {
				switch n.Content[i].Value {
				case "properties":
					hasProps = n.Content[i+1].Kind == yaml.MappingNode
				case "additionalProperties":
					hasAdditional = true
				}
			}
			if hasProps && !hasAdditional {
				n.Content = append(n.Content,
					&yaml.Node{Kind: yaml.ScalarNode, Value: "additionalProperties"},
					&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: "false"})
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(&root)
	return yaml.Marshal(&root)
}

func openAPIValidator(t testing.TB) validator.Validator {
	oasOnce.Do(func() {
		strict, err := strictOpenAPI(host.OpenAPI)
		if err != nil {
			oasErr = err
			return
		}
		oasDoc, oasErr = libopenapi.NewDocument(strict)
	})
	if oasErr != nil {
		t.Fatalf("openapi document: %v", oasErr)
	}
	v, errs := validator.NewValidator(oasDoc)
	if len(errs) > 0 {
		t.Fatalf("openapi validator: %v", errs)
	}
	return v
}

func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	ctx := context.Background()
	// SQLite by default; PostgreSQL with PAYMUX_TEST_STORE=postgres (see newTestStore).
	st := o.store
	if st == nil {
		st = newTestStore(t)
	}
	e := &env{t: t, store: st, providers: &staticProviders{accs: o.accounts}, sink: newWebhookSink(t)}
	log := hclog.New(&hclog.LoggerOptions{Name: "paymux", Level: hclog.Warn, Output: testWriter{t}})
	settings := &host.Settings{Regions: o.regions, WebhookURL: e.sink.srv.URL, WebhookSecret: testWebhookSecret}
	e.svc = host.New(host.Options{Store: st, Providers: e.providers, Settings: settings, Logger: log, CallTimeout: 5 * time.Second, OnFinal: o.onFinal})
	e.api = httpapi.New(httpapi.Options{Service: e.svc, Keys: httpapi.StaticKeys([]string{testAPIKey}), Logger: log, Shadows: o.shadows})
	policy := o.policy
	if policy == (host.RetryPolicy{}) {
		policy = host.RetryPolicy{Base: 20 * time.Millisecond, Max: 100 * time.Millisecond, Window: time.Second}
	}
	e.disp = host.NewDispatcher(host.DispatcherOptions{
		Service: e.svc, Policy: policy, Interval: 20 * time.Millisecond, Logger: log,
		// No test's sink hangs; the timeout only has to outlast a slow answer on a loaded machine
		// (a sink that took an event but answered late would get it twice).
		Sender: &webhook.Sender{Timeout: 10 * time.Second}, OnDelivery: o.onDelivery,
	})
	e.api.SetHooks(httpapi.Hooks{OnRedeliver: e.disp.Wake})
	e.srv = httptest.NewServer(e.api.Handler())
	t.Cleanup(e.srv.Close)
	settings.PublicURL = e.srv.URL
	dctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); e.disp.Run(dctx) }()
	t.Cleanup(func() { cancel(); <-done })
	e.oas = openAPIValidator(t)
	e.client = &http.Client{Timeout: 30 * time.Second}
	return e
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// response is one API answer, already checked against the OpenAPI document.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r *response) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decoding %s: %v", r.Body, err)
	}
}

func (r *response) errorParam(t testing.TB) string {
	t.Helper()
	var b struct {
		Error struct{ Param string }
	}
	r.decode(t, &b)
	return b.Error.Param
}

func (r *response) errorMessage(t testing.TB) string {
	t.Helper()
	var b struct {
		Error struct{ Code, Message string }
	}
	r.decode(t, &b)
	return b.Error.Message
}

func (r *response) errorCode(t testing.TB) string {
	t.Helper()
	var b struct {
		Error struct{ Code, Message string }
	}
	r.decode(t, &b)
	if b.Error.Code == "" || b.Error.Message == "" {
		t.Fatalf("error body without code or message: %s", r.Body)
	}
	return b.Error.Code
}

// call sends a request to the API with the test key (unless hdr sets Authorization) and
// validates the answer against the OpenAPI document.
func (e *env) call(method, path string, body any, hdr map[string]string) *response {
	e.t.Helper()
	var rd io.Reader
	var raw []byte
	switch b := body.(type) {
	case nil:
	case []byte:
		raw = b
	case string:
		raw = []byte(b)
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			e.t.Fatal(err)
		}
	}
	if raw != nil {
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if raw != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+testAPIKey)
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.Header.Get("X-Request-Id") == "" {
		e.t.Errorf("%s %s: no X-Request-Id", method, path)
	}
	e.checkOpenAPI(req, raw, resp, out)
	return &response{Status: resp.StatusCode, Header: resp.Header, Body: out}
}

// checkOpenAPI validates one response against the document.
func (e *env) checkOpenAPI(req *http.Request, reqBody []byte, resp *http.Response, body []byte) {
	e.t.Helper()
	vreq := req.Clone(context.Background())
	if reqBody != nil {
		vreq.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	vresp := *resp
	vresp.Body = io.NopCloser(bytes.NewReader(body))
	if ok, errs := e.oas.ValidateHttpResponse(vreq, &vresp); !ok {
		for _, ve := range errs {
			e.t.Errorf("OpenAPI: %s %s -> %d: %s (%s) %v", req.Method, req.URL.Path, resp.StatusCode, ve.Message, ve.Reason, ve.SchemaValidationErrors)
		}
		e.t.Errorf("response body: %s", body)
	}
}

func httpapiKeys(keys ...string) httpapi.KeyMatcher { return httpapi.StaticKeys(keys) }
