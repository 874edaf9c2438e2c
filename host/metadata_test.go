package host_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host"
)

// TestMetadata: metadata given on create is stored, returned by every read and sent in the
// events of the payment and of its refunds; bounds are refused with param naming the field.
func TestMetadata(t *testing.T) {
	e, _ := newFakeEnv(t)
	body := paymentBody("meta-1", 1_000)
	body["metadata"] = map[string]string{"order": "10023", "shop.id": "s-7", "note": "五月 Egg tarts"}
	p := e.createPayment(body, nil)
	if p.Metadata["order"] != "10023" || p.Metadata["note"] != "五月 Egg tarts" || len(p.Metadata) != 3 {
		t.Fatalf("created payment metadata: %v", p.Metadata)
	}
	if got := e.getPayment(p.ID); got.Metadata["shop.id"] != "s-7" {
		t.Fatalf("read payment metadata: %v", got.Metadata)
	}
	var page host.Page[host.Payment]
	e.call("GET", "/v1/payments?reference=meta-1", nil, nil).decode(t, &page)
	if len(page.Data) != 1 || page.Data[0].Metadata["order"] != "10023" {
		t.Fatalf("listed payment metadata: %+v", page.Data)
	}
	ev := e.sink.waitFor(t, "payment.created", p.ID)
	if !strings.Contains(string(ev.Data), `"metadata":{`) || !strings.Contains(string(ev.Data), `"order":"10023"`) {
		t.Fatalf("payment.created event lacks metadata: %s", ev.Data)
	}
	e.payFake(p, "meta-n")
	r := e.call("POST", "/v1/payments/"+p.ID+"/refunds", map[string]any{
		"amount": map[string]any{"value": 100, "currency": "HKD"}, "metadata": map[string]string{"ticket": "T-1"}}, nil)
	if r.Status != http.StatusCreated {
		t.Fatalf("refund: %d %s", r.Status, r.Body)
	}
	var rf host.Refund
	r.decode(t, &rf)
	if rf.Metadata["ticket"] != "T-1" {
		t.Fatalf("refund metadata: %v", rf.Metadata)
	}
	if ev := e.sink.waitFor(t, "refund.succeeded", rf.ID); !strings.Contains(string(ev.Data), `"ticket":"T-1"`) {
		t.Fatalf("refund.succeeded event lacks metadata: %s", ev.Data)
	}
	// A payment without metadata shows none.
	if plain := e.createPayment(paymentBody("meta-2", 1_000), nil); plain.Metadata != nil {
		t.Fatalf("metadata out of nowhere: %v", plain.Metadata)
	}

	many := map[string]string{}
	for i := range 21 {
		many[strings.Repeat("k", i+1)] = "v"
	}
	for name, c := range map[string]struct {
		meta  map[string]string
		param string
	}{
		"too many entries": {many, "metadata"},
		"key too long":     {map[string]string{strings.Repeat("k", 41): "v"}, "metadata"},
		"key with a space": {map[string]string{"a b": "v"}, "metadata"},
		"empty key":        {map[string]string{"": "v"}, "metadata"},
		"value too long":   {map[string]string{"order": strings.Repeat("x", 501)}, "metadata.order"},
		"NUL in value":     {map[string]string{"order": "a\x00b"}, "metadata.order"},
	} {
		body := paymentBody("meta-bad", 1_000)
		body["metadata"] = c.meta
		r := e.call("POST", "/v1/payments", body, nil)
		if r.Status != http.StatusBadRequest || r.errorCode(t) != "invalid" || r.errorParam(t) != c.param {
			t.Errorf("%s: %d %s, want 400 with param %s", name, r.Status, r.Body, c.param)
		}
	}
	// Control: the largest allowed metadata is taken.
	most := map[string]string{}
	for i := range 20 {
		most[strings.Repeat("k", 20)+strings.Repeat("x", i)] = strings.Repeat("v", 500)
	}
	body = paymentBody("meta-max", 1_000)
	body["metadata"] = most
	if got := e.createPayment(body, nil); len(got.Metadata) != 20 {
		t.Fatalf("the largest metadata: %d entries", len(got.Metadata))
	}
}

// TestExpiresAt: a requested expiry is kept, reaches the provider (which sets the wallet's
// timeout from it) and drives the janitor; one shorter than a minute or beyond the provider's
// MaxExpiry is refused with param expires_at; without one the provider's default applies.
func TestExpiresAt(t *testing.T) {
	e, fp := newFakeEnv(t)
	want := time.Now().Add(36 * time.Hour).UTC().Truncate(time.Second)
	body := paymentBody("exp-1", 1_000)
	body["expires_at"] = want.Format(time.RFC3339)
	p := e.createPayment(body, nil)
	if p.ExpiresAt == nil || !p.ExpiresAt.Equal(want) {
		t.Fatalf("expires_at = %v, want %v", p.ExpiresAt, want)
	}
	fp.mu.Lock()
	got := fp.expiry[p.OutTradeNo]
	fp.mu.Unlock()
	if !got.Equal(want) {
		t.Fatalf("the provider received ExpiresAt %v, want %v", got, want)
	}
	def := e.createPayment(paymentBody("exp-2", 1_000), nil)
	if d := time.Until(*def.ExpiresAt); d < time.Hour || d > 2*time.Hour+time.Minute {
		t.Fatalf("default expiry %v from now, want the 2h default", d)
	}
	for name, at := range map[string]time.Time{
		"in the past":           time.Now().Add(-time.Minute),
		"under a minute":        time.Now().Add(20 * time.Second),
		"beyond the max expiry": time.Now().Add(49 * time.Hour),
	} {
		body := paymentBody("exp-bad", 1_000)
		body["expires_at"] = at.Format(time.RFC3339Nano)
		r := e.call("POST", "/v1/payments", body, nil)
		if r.Status != http.StatusBadRequest || r.errorParam(t) != "expires_at" {
			t.Errorf("%s: %d %s", name, r.Status, r.Body)
		}
	}
	var page host.Page[host.Payment]
	e.call("GET", "/v1/payments?reference=exp-bad", nil, nil).decode(t, &page)
	if len(page.Data) != 0 {
		t.Fatalf("a refused expiry stored a payment: %+v", page.Data)
	}
}

// TestListPaymentsFilters: every filter of GET /v1/payments selects what it says, and pages
// follow next_cursor to the end without repeating or losing a payment.
func TestListPaymentsFilters(t *testing.T) {
	e, _ := newFakeEnv(t)
	var ids []string
	for i := range 5 {
		p := e.createPayment(paymentBody("lf", int64(1_000+i)), nil)
		ids = append(ids, p.ID)
	}
	paid := e.getPayment(ids[1])
	e.payFake(paid, "lf-n")
	mid := time.Now().UTC()
	time.Sleep(5 * time.Millisecond)
	nc := paymentBody("lf", 1_000)
	nc["region"] = "NC"
	late := e.createPayment(nc, nil)
	list := func(q string) []string {
		t.Helper()
		var out []string
		cursor := ""
		for range 20 {
			var page host.Page[host.Payment]
			r := e.call("GET", "/v1/payments?"+q+"&limit=2&cursor="+cursor, nil, nil)
			if r.Status != http.StatusOK {
				t.Fatalf("%s: %d %s", q, r.Status, r.Body)
			}
			r.decode(t, &page)
			for _, p := range page.Data {
				out = append(out, p.ID)
			}
			if page.NextCursor == "" {
				return out
			}
			cursor = page.NextCursor
		}
		t.Fatalf("%s: more than 20 pages", q)
		return nil
	}
	if got := list("reference=lf"); len(got) != 6 || got[0] != late.ID || got[5] != ids[0] {
		t.Errorf("all, newest first, paged by 2: %v", got)
	}
	if got := list("reference=lf&status=succeeded"); len(got) != 1 || got[0] != ids[1] {
		t.Errorf("status=succeeded: %v", got)
	}
	if got := list("reference=lf&region=NC"); len(got) != 1 || got[0] != late.ID {
		t.Errorf("region=NC: %v", got)
	}
	if got := list("reference=lf&account=fake-hk"); len(got) != 5 {
		t.Errorf("account=fake-hk: %v", got)
	}
	if got := list("reference=lf&method=fakeh5"); len(got) != 0 {
		t.Errorf("method=fakeh5: %v", got)
	}
	if got := list("reference=lf&created_from=" + mid.Format(time.RFC3339Nano)); len(got) != 1 || got[0] != late.ID {
		t.Errorf("created_from: %v", got)
	}
	if got := list("reference=lf&created_to=" + mid.Format(time.RFC3339Nano)); len(got) != 5 {
		t.Errorf("created_to: %v", got)
	}
	r := e.call("GET", "/v1/payments?created_from=2026-12-02T00:00:00Z&created_to=2026-12-01T00:00:00Z", nil, nil)
	if r.Status != http.StatusBadRequest || r.errorParam(t) != "created_to" {
		t.Errorf("an empty range: %d %s", r.Status, r.Body)
	}
}

// TestOnFinal: reaching a final status is reported once per payment or refund, with its method;
// a pending payment and a repeated notification report nothing.
func TestOnFinal(t *testing.T) {
	var mu sync.Mutex
	got := map[string]int{}
	fp := newFakeProvider()
	e := newEnv(t, envOptions{
		accounts: map[string]core.Provider{"fake-hk": fp},
		regions:  map[string][]host.RegionMethod{"HK": {{Method: "fakewallet", Account: "fake-hk"}}},
		onFinal:  func(kind, status, method string) { mu.Lock(); got[kind+" "+status+" "+method]++; mu.Unlock() },
	})
	p := e.createPayment(paymentBody("final", 1_000), nil)
	e.createPayment(paymentBody("final-pending", 1_000), nil)
	e.payFake(p, "final-n")
	e.payFake(p, "final-n") // the same notification again: no second count
	r := e.call("POST", "/v1/payments/"+p.ID+"/refunds", map[string]any{"amount": map[string]any{"value": 13, "currency": "HKD"}}, nil)
	if r.Status != http.StatusCreated {
		t.Fatalf("refund: %d %s", r.Status, r.Body)
	}
	mu.Lock()
	defer mu.Unlock()
	want := map[string]int{"payment succeeded fakewallet": 1, "refund failed fakewallet": 1}
	if len(got) != len(want) || got["payment succeeded fakewallet"] != 1 || got["refund failed fakewallet"] != 1 {
		t.Fatalf("final reports %v, want %v", got, want)
	}
}

// TestRefundErrorParam: every refused field of a refund request is named in param, and so is
// a field a provider refuses; each has its control.
func TestRefundErrorParam(t *testing.T) {
	e, _ := newFakeEnv(t)
	p := e.createPayment(paymentBody("rf-param", 1_000), nil)
	e.payFake(p, "rf-param-n")
	path := "/v1/payments/" + p.ID + "/refunds"
	for name, c := range map[string]struct {
		body  map[string]any
		param string
	}{
		"zero amount":         {map[string]any{"amount": map[string]any{"value": 0, "currency": "HKD"}}, "amount.value"},
		"unknown currency":    {map[string]any{"amount": map[string]any{"value": 100, "currency": "XYZ"}}, "amount.currency"},
		"other currency":      {map[string]any{"amount": map[string]any{"value": 100, "currency": "USD"}}, "amount.currency"},
		"above refundable":    {map[string]any{"amount": map[string]any{"value": 1_001, "currency": "HKD"}}, "amount"},
		"reason too long":     {map[string]any{"amount": map[string]any{"value": 100, "currency": "HKD"}, "reason": strings.Repeat("r", 257)}, "reason"},
		"reason with a NUL":   {map[string]any{"amount": map[string]any{"value": 100, "currency": "HKD"}, "reason": "a\x00b"}, "reason"},
		"metadata bad key":    {map[string]any{"amount": map[string]any{"value": 100, "currency": "HKD"}, "metadata": map[string]string{"a b": "v"}}, "metadata"},
		"metadata long value": {map[string]any{"amount": map[string]any{"value": 100, "currency": "HKD"}, "metadata": map[string]string{"t": strings.Repeat("v", 501)}}, "metadata.t"},
	} {
		r := e.call("POST", path, c.body, nil)
		if r.Status != http.StatusBadRequest || r.errorCode(t) != "invalid" || r.errorParam(t) != c.param {
			t.Errorf("%s: %d %s, want 400 with param %s", name, r.Status, r.Body, c.param)
		}
	}
	// Control: the same payment takes a valid refund, which names no param.
	r := e.call("POST", path, map[string]any{"amount": map[string]any{"value": 1_000, "currency": "HKD"}, "reason": "ok", "metadata": map[string]string{"t": "v"}}, nil)
	if r.Status != http.StatusCreated {
		t.Fatalf("valid refund: %d %s", r.Status, r.Body)
	}
	// A provider's field error reaches the caller with its param; a provider error about no
	// field (the control) has none.
	body := paymentBody("prov-param", 1_000)
	body["provider_extras"] = map[string]string{"fail": "field"}
	if r := e.call("POST", "/v1/payments", body, nil); r.Status != http.StatusBadRequest || r.errorParam(t) != "provider_extras" {
		t.Errorf("provider field error: %d %s, want 400 with param provider_extras", r.Status, r.Body)
	}
	body = paymentBody("prov-noparam", 1_000)
	body["provider_extras"] = map[string]string{"fail": "unavailable"}
	if r := e.call("POST", "/v1/payments", body, nil); r.Status != http.StatusServiceUnavailable || r.errorParam(t) != "" {
		t.Errorf("provider error about no field: %d %s, want 503 without param", r.Status, r.Body)
	}
}
