package mapisim

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/paymux/paymux/core/signing"
)

func (e *env) refund(partner string, p map[string]string) (envelope, string) {
	e.t.Helper()
	q := map[string]string{"service": "forex_refund", "partner": partner, "_input_charset": "utf-8", "gmt_return": "20261120120000"}
	for k, v := range p {
		q[k] = v
	}
	_, body := e.call(q, signing.RSA2)
	env, _ := parseEnvelope(e.t, body)
	return env, body
}

func TestForexRefundRules(t *testing.T) {
	e := newEnv(t, Config{TimeScale: 1}) // the unpaid order must not reach its it_b_pay expiry
	e.paid(globalPID, "R1", "10.00", "USD")
	e.paid(hkPID, "RH1", "100.00", "HKD")
	if _, err := e.sim.OpenOrderString(t.Context(), e.orderString(e.orderParams(globalPID, "UNPAID", "1.00", "USD"), signing.RSA)); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name    string
		partner string
		p       map[string]string
		code    string
	}{
		{"partial", globalPID, map[string]string{"out_trade_no": "R1", "out_return_no": "RF1", "return_amount": "3.00", "currency": "USD", "is_sync": "Y"}, ""},
		{"identical repeat is idempotent", globalPID, map[string]string{"out_trade_no": "R1", "out_return_no": "RF1", "return_amount": "3.00", "currency": "USD", "is_sync": "Y"}, ""},
		{"same out_return_no, other amount", globalPID, map[string]string{"out_trade_no": "R1", "out_return_no": "RF1", "return_amount": "4.00", "currency": "USD", "is_sync": "Y"}, "REPEATED_REFUNDMENT_REQUEST"},
		{"second partial", globalPID, map[string]string{"out_trade_no": "R1", "out_return_no": "RF2", "return_amount": "5.00", "currency": "USD", "is_sync": "Y"}, ""},
		{"exceeds the rest", globalPID, map[string]string{"out_trade_no": "R1", "out_return_no": "RF3", "return_amount": "2.01", "currency": "USD", "is_sync": "Y"}, "RETURN_AMOUNT_EXCEED"},
		{"other currency", globalPID, map[string]string{"out_trade_no": "R1", "out_return_no": "RF4", "return_amount": "1.00", "currency": "EUR", "is_sync": "Y"}, "CURRENCY_NOT_SAME"},
		{"unknown trade", globalPID, map[string]string{"out_trade_no": "NOPE", "out_return_no": "RF5", "return_amount": "1.00", "currency": "USD"}, "PURCHASE_TRADE_NOT_EXIST"},
		{"unpaid trade", globalPID, map[string]string{"out_trade_no": "UNPAID", "out_return_no": "RF6", "return_amount": "1.00", "currency": "USD"}, "PURCHASE_TRADE_NOT_EXIST"},
		{"both amounts", globalPID, map[string]string{"out_trade_no": "R1", "out_return_no": "RF7", "return_amount": "1.00", "return_rmb_amount": "1.00", "currency": "USD"}, "ILLEGAL_ARGUMENT"},
		{"three decimals", globalPID, map[string]string{"out_trade_no": "R1", "out_return_no": "RF8", "return_amount": "1.001", "currency": "USD"}, "ILLEGAL_ARGUMENT"},
		{"bad is_sync", globalPID, map[string]string{"out_trade_no": "R1", "out_return_no": "RF9", "return_amount": "1.00", "currency": "USD", "is_sync": "yes"}, "ILLEGAL_ARGUMENT"},
		{"bad gmt_return", globalPID, map[string]string{"out_trade_no": "R1", "out_return_no": "RF10", "return_amount": "1.00", "currency": "USD", "gmt_return": "20/11/2026"}, "ILLEGAL_ARGUMENT"},
		{"rest in full", globalPID, map[string]string{"out_trade_no": "R1", "out_return_no": "RF11", "return_amount": "2.00", "currency": "USD", "is_sync": "Y"}, ""},
		{"nothing left", globalPID, map[string]string{"out_trade_no": "R1", "out_return_no": "RF12", "return_amount": "0.01", "currency": "USD", "is_sync": "Y"}, "RETURN_AMOUNT_EXCEED"},
		{"HK without reason", hkPID, map[string]string{"out_trade_no": "RH1", "out_return_no": "HF1", "return_amount": "1.00", "currency": "HKD", "is_sync": "Y"}, "ILLEGAL_ARGUMENT"},
		{"HK reason with quote", hkPID, map[string]string{"out_trade_no": "RH1", "out_return_no": "HF1", "return_amount": "1.00", "currency": "HKD", "is_sync": "Y", "reason": `say "hi"`}, "ILLEGAL_ARGUMENT"},
		{"HK page time format", hkPID, map[string]string{"out_trade_no": "RH1", "out_return_no": "HF2", "return_amount": "1.00", "currency": "HKD", "is_sync": "Y", "reason": "damaged", "gmt_return": "2026-11-20 12:00:00"}, ""},
		{"HK compact time format", hkPID, map[string]string{"out_trade_no": "RH1", "out_return_no": "HF3", "return_amount": "1.00", "currency": "HKD", "is_sync": "Y", "reason": "damaged"}, ""},
		{"HK in USD", hkPID, map[string]string{"out_trade_no": "RH1", "out_return_no": "HF4", "return_amount": "1.00", "currency": "USD", "is_sync": "Y", "reason": "x"}, "CURRENCY_NOT_SAME"},
	}
	for _, st := range steps {
		env, body := e.refund(st.partner, st.p)
		if st.code == "" && (env.IsSuccess != "T" || env.Error != "") {
			t.Fatalf("%s: %s", st.name, body)
		}
		if st.code != "" && env.Error != st.code {
			t.Fatalf("%s: got %s, want %s", st.name, body, st.code)
		}
	}
	o, _ := e.sim.Order(globalPID, "R1")
	if o.Refunded != 1000 || o.Status != StatusTradeClosed || len(o.Refunds) != 3 {
		t.Fatalf("order after refunds: %+v", o)
	}
	e.waitIdle()
	for _, n := range e.got() {
		if n["notify_type"] == "refund_status_sync" {
			t.Fatalf("is_sync=Y refund sent a notification: %v", n)
		}
	}
}

func TestAsyncRefundNotifiesAndQueries(t *testing.T) {
	e := newEnv(t, Config{AsyncRefundDelay: time.Minute})
	e.paid(globalPID, "AR1", "10.00", "USD")
	env, body := e.refund(globalPID, map[string]string{"out_trade_no": "AR1", "out_return_no": "ARF1", "return_amount": "4.00",
		"currency": "USD", "notify_url": e.notifyURL()})
	if env.IsSuccess != "T" {
		t.Fatal(body)
	}
	e.waitIdle()
	var rn map[string]string
	for _, n := range e.got() {
		if n["notify_type"] == "refund_status_sync" {
			rn = n
		}
	}
	if rn == nil || rn["refund_status"] != "REFUND_SUCCESS" || rn["out_return_no"] != "ARF1" || rn["return_amount"] != "4.00" {
		t.Fatalf("refund notification: %v", rn)
	}
	if err := e.verifyFields(rn); err != nil {
		t.Fatal(err)
	}
	q := map[string]string{"service": "alipay.acquire.refund.query", "partner": globalPID, "_input_charset": "utf-8", "out_trade_no": "AR1", "out_return_no": "ARF1"}
	_, body = e.call(q, signing.RSA2)
	env, f := parseEnvelope(t, body)
	if env.IsSuccess != "T" || f["response_code"] != "SUCCESS" || f["refund_result_code"] != "SUCCESS" || f["return_amount"] != "4.00" {
		t.Fatalf("refund query: %s", body)
	}
	f["sign"], f["sign_type"] = env.Sign, env.SignType
	if err := e.verifyFields(f); err != nil {
		t.Fatalf("refund query signature: %v", err)
	}
	q["out_return_no"] = "NOPE"
	_, body = e.call(q, signing.RSA2)
	if _, f := parseEnvelope(t, body); f["response_code"] != "NOT_FOUND" {
		t.Fatalf("unknown refund: %s", body)
	}
	q["out_trade_no"] = "NOPE"
	_, body = e.call(q, signing.RSA2)
	if _, f := parseEnvelope(t, body); f["response_code"] != "TRADE_NOT_EXIST" {
		t.Fatalf("unknown trade: %s", body)
	}
}

func TestRefundMinInterval(t *testing.T) {
	e := newEnv(t, Config{RefundMinInterval: 3 * time.Second})
	e.paid(globalPID, "I1", "10.00", "USD")
	r := func(no string) string {
		env, _ := e.refund(globalPID, map[string]string{"out_trade_no": "I1", "out_return_no": no, "return_amount": "1.00", "currency": "USD", "is_sync": "Y"})
		return env.Error
	}
	if c := r("I-1"); c != "" {
		t.Fatal(c)
	}
	e.clock.Add(2 * time.Second)
	if c := r("I-2"); c != "SYSTEM_EXCEPTION" {
		t.Fatalf("refund within 3 s: %q", c)
	}
	e.clock.Add(time.Second)
	if c := r("I-2"); c != "" {
		t.Fatalf("refund after 3 s: %q", c)
	}
}

func TestRefundFailFault(t *testing.T) {
	e := newEnv(t, Config{})
	e.paid(globalPID, "RF", "10.00", "USD")
	e.sim.SetFault(Fault{Kind: FaultRefundFail, Count: 1})
	env, body := e.refund(globalPID, map[string]string{"out_trade_no": "RF", "out_return_no": "S1", "return_amount": "4.00", "currency": "USD", "is_sync": "Y"})
	if env.Error != "MERCHANT_BALANCE_NOT_ENOUGH" {
		t.Fatalf("sync failure: %s", body)
	}
	if env, _ := e.refund(globalPID, map[string]string{"out_trade_no": "RF", "out_return_no": "S1", "return_amount": "4.00", "currency": "USD", "is_sync": "Y"}); env.Error != "MERCHANT_BALANCE_NOT_ENOUGH" {
		t.Fatal("a retried failed refund must give the same answer")
	}
	e.sim.SetFault(Fault{Kind: FaultRefundFail, Code: "REFUNDMENT_VALID_DATE_EXCEED", Count: 1})
	if env, body := e.refund(globalPID, map[string]string{"out_trade_no": "RF", "out_return_no": "A1", "return_amount": "10.00", "currency": "USD", "notify_url": e.notifyURL()}); env.IsSuccess != "T" {
		t.Fatalf("async acceptance: %s", body)
	}
	e.waitIdle()
	var rn map[string]string
	for _, n := range e.got() {
		if n["notify_type"] == "refund_status_sync" {
			rn = n
		}
	}
	if rn["refund_status"] != "REFUND_FAIL" || rn["error_code"] != "REFUNDMENT_VALID_DATE_EXCEED" || e.verifyFields(rn) != nil {
		t.Fatalf("REFUND_FAIL notification: %v", rn)
	}
	// Failed refunds give the amount back: the whole order is still refundable.
	if env, body := e.refund(globalPID, map[string]string{"out_trade_no": "RF", "out_return_no": "OK1", "return_amount": "10.00", "currency": "USD", "is_sync": "Y"}); env.IsSuccess != "T" {
		t.Fatalf("after failures: %s", body)
	}
	if r, _ := e.sim.Refund(globalPID, "A1"); r.Status != RefundFailed {
		t.Fatalf("%+v", r)
	}
}

// TestAnswerFaults: lose_answer carries the refund out and drops the answer (the refund is
// made: a repeat is idempotent and the query finds it); stale_query makes the refund query
// answer NOT_FOUND although the refund succeeded. FaultByID keeps the counters after the
// faults are gone.
func TestAnswerFaults(t *testing.T) {
	e := newEnv(t, Config{})
	e.paid(globalPID, "LA1", "10.00", "USD")
	lose, _ := e.sim.SetFault(Fault{Kind: FaultLoseAnswer, Service: "forex_refund", Count: 1})
	p := map[string]string{"out_trade_no": "LA1", "out_return_no": "LAR1", "return_amount": "3.00", "currency": "USD", "is_sync": "Y"}
	q := e.signed(map[string]string{"service": "forex_refund", "partner": globalPID, "_input_charset": "utf-8",
		"gmt_return": "20261120120000", "out_trade_no": "LA1", "out_return_no": "LAR1", "return_amount": "3.00", "currency": "USD", "is_sync": "Y"}, signing.RSA2)
	if resp, err := http.Get(e.gw.URL + "/gateway.do?" + q.Encode()); err == nil {
		resp.Body.Close()
		t.Fatalf("lose_answer: got an answer %d", resp.StatusCode)
	}
	if r, ok := e.sim.Refund(globalPID, "LAR1"); !ok || r.Status != RefundSuccess {
		t.Fatalf("lose_answer: the refund was not made: %+v %v", r, ok)
	}
	if env, body := e.refund(globalPID, p); env.IsSuccess != "T" {
		t.Fatalf("repeat after a lost answer: %s", body)
	}
	query := map[string]string{"service": "alipay.acquire.refund.query", "partner": globalPID, "_input_charset": "utf-8", "out_trade_no": "LA1", "out_return_no": "LAR1"}
	stale, _ := e.sim.SetFault(Fault{Kind: FaultStaleQuery, Count: 1})
	for i, want := range []string{"NOT_FOUND", "SUCCESS"} {
		_, body := e.call(query, signing.RSA2)
		if !strings.Contains(body, "<response_code>"+want+"</response_code>") {
			t.Fatalf("refund query %d: want %s: %s", i+1, want, body)
		}
	}
	for _, id := range []int64{lose, stale} {
		if f, ok := e.sim.FaultByID(id); !ok || f.Fired != 1 || f.Active {
			t.Fatalf("fault %d: %+v %v; want fired once and used up", id, f, ok)
		}
	}
	if _, ok := e.sim.FaultByID(999); ok {
		t.Fatal("FaultByID found a fault that was never set")
	}
	if got := e.sim.RefundsOf(globalPID, "LA1"); len(got) != 1 || got[0].OutReturnNo != "LAR1" {
		t.Fatalf("RefundsOf = %+v", got)
	}
	// A lagging forex_refund does not know the refund it made: the repeat of a full refund is
	// refused as exceeding; without the lag it is idempotent.
	e.paid(globalPID, "LA2", "5.00", "USD")
	full := map[string]string{"out_trade_no": "LA2", "out_return_no": "LAR2", "return_amount": "5.00", "currency": "USD", "is_sync": "Y"}
	if env, body := e.refund(globalPID, full); env.IsSuccess != "T" {
		t.Fatalf("full refund: %s", body)
	}
	e.sim.SetFault(Fault{Kind: FaultStaleQuery, Service: "forex_refund", Count: 1})
	if env, body := e.refund(globalPID, full); env.Error != "RETURN_AMOUNT_EXCEED" {
		t.Fatalf("repeat under stale_query: %s", body)
	}
	if env, body := e.refund(globalPID, full); env.IsSuccess != "T" {
		t.Fatalf("repeat without the fault: %s", body)
	}
}
