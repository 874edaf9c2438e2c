package mapisim

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/paymux/paymux/core/signing"
)

// Two simulators with the same seed and the same operations produce the same trade numbers and
// notify ids; another seed produces others.
func TestDeterministicGivenSeed(t *testing.T) {
	run := func(seed int64) []string {
		e := newEnv(t, Config{Seed: seed})
		var out []string
		for i := range 3 {
			out = append(out, e.paid(globalPID, fmt.Sprintf("D%d", i), "1.00", "USD"))
		}
		e.waitIdle()
		for _, d := range e.sim.Deliveries() {
			out = append(out, d.NotifyID)
		}
		return out
	}
	a, b, c := run(7), run(7), run(8)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatalf("same seed differs:\n%v\n%v", a, b)
	}
	if fmt.Sprint(a) == fmt.Sprint(c) {
		t.Fatal("different seeds gave the same ids")
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	e := newEnv(t, Config{Seed: 3, TimeScale: 1}) // P2 must stay unpaid, not expire
	tn := e.paid(globalPID, "P1", "9.99", "USD")
	if env, body := e.refund(globalPID, map[string]string{"out_trade_no": "P1", "out_return_no": "PR1", "return_amount": "1.00", "currency": "USD", "is_sync": "Y"}); env.IsSuccess != "T" {
		t.Fatal(body)
	}
	if _, err := e.sim.OpenOrderString(context.Background(), e.orderString(e.orderParams(globalPID, "P2", "1.00", "USD"), signing.RSA)); err != nil {
		t.Fatal(err)
	}
	e.waitIdle()
	path := filepath.Join(t.TempDir(), "state.json")
	if err := e.sim.SaveFile(path); err != nil {
		t.Fatal(err)
	}
	next := e.paid(globalPID, "P3", "1.00", "USD") // what the original produces next

	f := newEnv(t, Config{Seed: 99, TimeScale: 1})
	if err := f.sim.LoadFile(path); err != nil {
		t.Fatal(err)
	}
	o, ok := f.sim.Order(globalPID, "P1")
	if !ok || o.TradeNo != tn || o.Refunded != 100 || o.Status != StatusTradeFinished {
		t.Fatalf("loaded order: %+v", o)
	}
	if r, ok := f.sim.Refund(globalPID, "PR1"); !ok || r.Status != RefundSuccess {
		t.Fatalf("loaded refund: %+v", r)
	}
	if o, _ := f.sim.Order(globalPID, "P2"); o.Status != StatusWaitBuyerPay {
		t.Fatalf("unpaid order: %+v", o)
	}
	if len(f.sim.Deliveries()) != 1 {
		t.Fatal("deliveries not loaded")
	}
	// The random source continues where it was saved.
	if got := f.paid(globalPID, "P3", "1.00", "USD"); got != next {
		t.Fatalf("after load trade_no %s, want %s", got, next)
	}
	// Query works on loaded state.
	_, body := f.call(map[string]string{"service": "single_trade_query", "partner": globalPID, "_input_charset": "utf-8", "trade_no": tn}, signing.RSA2)
	if _, fl := parseEnvelope(t, body); fl["out_trade_no"] != "P1" || fl["refund_fee"] != "1.00" {
		t.Fatalf("query after load: %s", body)
	}
	if err := f.sim.LoadFile(filepath.Join(t.TempDir(), "missing.json")); err != nil {
		t.Fatalf("missing state file: %v", err)
	}
	if err := f.sim.Load(bytes.NewReader([]byte(`{"version":42}`))); err == nil {
		t.Fatal("wrong version accepted")
	}
}

// Memory stays bounded: beyond MaxOrders the oldest finished orders go, unpaid ones stay.
func TestEvictionBoundsMemory(t *testing.T) {
	e := newEnv(t, Config{MaxOrders: 5, MaxDeliveries: 4})
	keep := e.orderParams(globalPID, "KEEP", "1.00", "USD")
	keep["it_b_pay"] = "15d"
	if _, err := e.sim.OpenOrderString(context.Background(), e.orderString(keep, signing.RSA)); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		e.paid(globalPID, fmt.Sprintf("EV%02d", i), "1.00", "USD")
		e.waitIdle()
	}
	e.sim.mu.Lock()
	n, nIDs := len(e.sim.orders), len(e.sim.notifyIDs)
	e.sim.mu.Unlock()
	if n != 5 {
		t.Fatalf("%d orders kept, want 5", n)
	}
	if _, ok := e.sim.Order(globalPID, "KEEP"); !ok {
		t.Fatal("an unfinished order was evicted")
	}
	if _, ok := e.sim.Order(globalPID, "EV19"); !ok {
		t.Fatal("the newest order was evicted")
	}
	if _, ok := e.sim.Order(globalPID, "EV00"); ok {
		t.Fatal("the oldest finished order was kept")
	}
	if d := e.sim.Deliveries(); len(d) != 4 || nIDs != 4 {
		t.Fatalf("%d deliveries, %d notify ids kept", len(d), nIDs)
	}
}

// A notification still pending at save time is resumed by the loaded simulator.
func TestLoadResumesPendingDelivery(t *testing.T) {
	e := newEnv(t, Config{TimeScale: 1}) // first retry only after 2 real minutes
	e.answer = func(map[string]string) string { return "fail" }
	e.paid(globalPID, "PD1", "1.00", "USD")
	deadline := time.Now().Add(30 * time.Second)
	for len(e.got()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	for len(e.sim.DeliveriesFor(globalPID, "PD1")[0].Attempts) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	var buf bytes.Buffer
	if err := e.sim.Save(&buf); err != nil {
		t.Fatal(err)
	}
	e.mu.Lock()
	e.answer = nil // the merchant now acknowledges
	e.mu.Unlock()
	f := newEnv(t, Config{})
	if err := f.sim.Load(&buf); err != nil {
		t.Fatal(err)
	}
	f.waitIdle()
	d := f.sim.DeliveriesFor(globalPID, "PD1")
	if len(d) != 1 || d[0].State != DeliveryDelivered || len(d[0].Attempts) != 2 || d[0].Attempts[1].N != 2 {
		t.Fatalf("resumed delivery: %+v", d)
	}
	// It went to the URL recorded in the state (e's merchant), with the same notify_id.
	if n := e.got(); len(n) != 2 || n[0]["notify_id"] != n[1]["notify_id"] {
		t.Fatalf("posts: %v", n)
	}
}
