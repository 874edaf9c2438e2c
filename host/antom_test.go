package host_test

import (
	"context"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host"
	"github.com/paymux/paymux/providers/antomsim"
)

const antomTestClient = "SANDBOX_5X0000000000HOST"

// newAntomEnv is a host with one Antom account behind the real plugin binary, on antomsim.
func newAntomEnv(t *testing.T) (*env, *antomsim.Sim) {
	t.Helper()
	// TimeScale also scales the order's life (the plugin sends 14 minutes): at 50 an unpaid
	// order expires after 16.8 s of real time, which a loaded machine does not reach between a
	// create and its payment (at 1000 it did: 0.84 s); a notification retry comes 2.4 s late.
	sim := antomsim.New(antomsim.Config{Seed: 5, TimeScale: 50, DefaultExpiry: 24 * time.Hour})
	t.Cleanup(sim.Close)
	gw := httptest.NewServer(sim.Handler())
	t.Cleanup(gw.Close)
	if err := sim.AddMerchant(antomsim.Merchant{ClientID: antomTestClient, PublicKeyPEM: antomsim.TestMerchantPublicKeyPEM}); err != nil {
		t.Fatal(err)
	}
	accounts := pluginAccounts(t, map[string]map[string]string{"antom": {
		"client_id": antomTestClient, "gateway_url": gw.URL, "private_key_file": string(antomsim.TestMerchantPrivateKeyPEM),
		"antom_public_key_file": string(sim.AntomPublicKeyPEM()), "timeout": "10s",
	}})
	e := newEnv(t, envOptions{accounts: accounts, regions: map[string][]host.RegionMethod{
		"PH": {{Method: "gcash", Account: "antom"}},
		"KR": {{Method: "kakaopay", Account: "antom"}},
	}})
	return e, sim
}

// TestAntomNotificationFaults: duplicated notifications, PAYMENT_PENDING before the result and
// a stale PAYMENT_PENDING after it change each payment exactly once, through the plugin. The
// control run without faults receives one delivery per payment; with the faults there are more,
// and still one payment.succeeded each.
func TestAntomNotificationFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("launches the antom plugin")
	}
	e, sim := newAntomEnv(t)
	run := func(t *testing.T, n int, tag string) []*host.Payment {
		var ps []*host.Payment
		for i := 0; i < n; i++ {
			region, method, cur, v := "PH", "gcash", "PHP", int64(10000+i)
			if i%2 == 1 {
				region, method, cur, v = "KR", "kakaopay", "KRW", int64(1000+i)
			}
			ps = append(ps, e.createPayment(map[string]any{"region": region, "method": method, "channel": "h5",
				"amount": map[string]any{"value": v, "currency": cur}, "subject": "antom " + tag,
				"return_url": "https://shop.example/r", "reference": tag}, nil))
		}
		var wg sync.WaitGroup
		for _, p := range ps {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := sim.PayAction(context.Background(), *p.NextAction, antomsim.DecisionPay); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		for _, p := range ps {
			e.sink.waitFor(t, "payment.succeeded", p.ID)
		}
		return ps
	}
	settle := func() {
		deadline := time.Now().Add(waitLimit)
		for time.Now().Before(deadline) {
			done := true
			for _, d := range sim.Deliveries() {
				done = done && d.Acked
			}
			if done {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatal("deliveries not all acknowledged")
	}

	control := run(t, 4, "control")
	settle()
	if d := len(sim.Deliveries()); d != len(control) {
		t.Fatalf("control: %d deliveries for %d payments", d, len(control))
	}
	for _, k := range []antomsim.FaultKind{antomsim.FaultDuplicateNotify, antomsim.FaultPendingFirst, antomsim.FaultStalePending} {
		if _, err := sim.SetFault(antomsim.Fault{Kind: k, ClientID: antomTestClient, Count: 2}); err != nil {
			t.Fatal(err)
		}
	}
	before := len(sim.Deliveries())
	faulted := run(t, 6, "faulted")
	settle()
	if d := len(sim.Deliveries()) - before; d != len(faulted)+6 {
		t.Errorf("faults: %d deliveries for %d payments, want %d (the faults were not injected)", d, len(faulted), len(faulted)+6)
	}
	for _, p := range append(control, faulted...) {
		// Every delivery is acknowledged (settle): once the payment's events are all delivered,
		// a duplicate payment.succeeded would be in the sink.
		e.waitDelivered(t, p.ID)
		if n := e.sink.count("payment.succeeded", p.ID); n != 1 {
			t.Errorf("payment %s: %d payment.succeeded events, want 1", p.ID, n)
		}
		got := e.getPayment(p.ID)
		if got.Status != core.PaymentSucceeded || got.ProviderRef == "" {
			t.Errorf("payment %s: %s, provider ref %q", p.ID, got.Status, got.ProviderRef)
		}
	}
}
