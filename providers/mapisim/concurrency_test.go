package mapisim

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/paymux/paymux/core/signing"
)

// Many partners at once: concurrent payments, refunds and queries keep every order consistent
// and every notification delivered once.
func TestManyPartnersConcurrently(t *testing.T) {
	e := newEnv(t, Config{Seed: 5})
	var partners []string
	for i := range 6 {
		id := fmt.Sprintf("20881000000000%02d", i)
		if err := e.sim.AddPartner(Partner{ID: id, SignType: "RSA2", MerchantPublicKeyPEM: TestMerchantPublicKeyPEM}); err != nil {
			t.Fatal(err)
		}
		partners = append(partners, id)
	}
	const perPartner = 15
	var wg sync.WaitGroup
	errs := make(chan error, len(partners)*perPartner)
	for _, pid := range partners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perPartner {
				otn := fmt.Sprintf("%s-%d", pid, i)
				res, err := e.sim.PayOrderString(context.Background(), e.orderString(e.orderParams(pid, otn, "2.00", "USD"), signing.RSA2))
				if err != nil || res.ResultStatus != ResultSuccess {
					errs <- fmt.Errorf("%s: %+v %v", otn, res, err)
					continue
				}
				env, body := e.refund(pid, map[string]string{"out_trade_no": otn, "out_return_no": otn + "-r", "return_amount": "0.50", "currency": "USD", "is_sync": "Y"})
				if env.IsSuccess != "T" {
					errs <- fmt.Errorf("%s refund: %s", otn, body)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	e.waitIdle()
	seen := map[string]int{}
	for _, n := range e.got() {
		seen[n["out_trade_no"]]++
	}
	if len(seen) != len(partners)*perPartner {
		t.Fatalf("%d orders notified, want %d", len(seen), len(partners)*perPartner)
	}
	for otn, c := range seen {
		if c != 1 {
			t.Fatalf("%s notified %d times", otn, c)
		}
	}
	for _, pid := range partners {
		o, ok := e.sim.Order(pid, pid+"-3")
		if !ok || o.Refunded != 50 || o.Status != StatusTradeFinished {
			t.Fatalf("%+v", o)
		}
	}
}
