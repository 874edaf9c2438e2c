package mapisim

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/paymux/paymux/core/notify"
	"github.com/paymux/paymux/core/signing"
)

// The merchant never acknowledges: eight deliveries on the real schedule, scaled.
func TestRetryScheduleRunsToTheEnd(t *testing.T) {
	const scale = 100000
	e := newEnv(t, Config{TimeScale: scale})
	e.answer = func(map[string]string) string { return "fail" }
	clockStart := time.Now()
	e.paid(globalPID, "N1", "1.00", "USD")
	e.waitIdle()
	elapsed := time.Since(clockStart)
	ds := e.sim.DeliveriesFor(globalPID, "N1")
	if len(ds) != 1 {
		t.Fatalf("deliveries: %d", len(ds))
	}
	d := ds[0]
	if d.State != DeliveryFailed || len(d.Attempts) != len(notify.RetrySchedule)+1 {
		t.Fatalf("state %s, %d attempts", d.State, len(d.Attempts))
	}
	var total time.Duration
	for i, r := range notify.RetrySchedule {
		total += r
		if a := d.Attempts[i+1]; a.Delay != r {
			t.Errorf("attempt %d came %v (simulated) after the answer to the one before, want %v", i+2, a.Delay, r)
		}
	}
	if d.Attempts[0].Delay != 0 {
		t.Errorf("the first delivery has delay %v", d.Attempts[0].Delay)
	}
	if min := time.Duration(float64(total) / scale); elapsed < min {
		t.Fatalf("whole schedule took %v, less than the scaled %v", elapsed, min)
	}
	// Every attempt carries the same notify_id and a fresh, valid signature.
	ids := map[string]bool{}
	for _, n := range e.got() {
		ids[n["notify_id"]] = true
		if err := e.verifyFields(n); err != nil {
			t.Fatal(err)
		}
	}
	if len(ids) != 1 || len(e.got()) != 8 {
		t.Fatalf("%d posts, %d notify ids", len(e.got()), len(ids))
	}
}

func TestRetryStopsOnSuccess(t *testing.T) {
	e := newEnv(t, Config{})
	calls := 0
	e.answer = func(map[string]string) string {
		calls++
		switch calls {
		case 1:
			return "fail"
		case 2:
			return "<html>error</html>"
		}
		return "SUCCESS" // docs spelling, accepted by default
	}
	e.paid(globalPID, "N2", "1.00", "USD")
	e.waitIdle()
	d := e.sim.DeliveriesFor(globalPID, "N2")[0]
	if d.State != DeliveryDelivered || len(d.Attempts) != 3 || !d.Attempts[2].Acked {
		t.Fatalf("%+v", d)
	}
	// notify_id verifies once per delivery: the id is re-armed by each redelivery.
	id := d.NotifyID
	if e.sim.VerifyNotifyID(globalPID, id) != "true" || e.sim.VerifyNotifyID(globalPID, id) != "false" {
		t.Fatal("notify_id must verify exactly once after the last delivery")
	}
}

func TestStrictAck(t *testing.T) {
	e := newEnv(t, Config{StrictAck: true})
	calls := 0
	e.answer = func(map[string]string) string {
		calls++
		if calls == 1 {
			return "SUCCESS"
		}
		return "success"
	}
	e.paid(globalPID, "N3", "1.00", "USD")
	e.waitIdle()
	if d := e.sim.DeliveriesFor(globalPID, "N3")[0]; len(d.Attempts) != 2 {
		t.Fatalf("strict ack: %d attempts", len(d.Attempts))
	}
}

func TestMD5PartnerNotificationsAndUnreachableMerchant(t *testing.T) {
	e := newEnv(t, Config{})
	p := e.orderParams(md5PID, "M1", "2.00", "USD")
	// MD5 partners cannot sign order strings (RSA only); use the H5 flow with MD5.
	h5 := map[string]string{"service": "create_forex_trade_wap", "partner": md5PID, "_input_charset": "utf-8",
		"out_trade_no": "M1", "subject": "x", "total_fee": "2.00", "currency": "USD", "notify_url": p["notify_url"]}
	if _, err := e.sim.PayH5(context.Background(), "http://gw/gateway.do?"+e.signed(h5, signing.MD5).Encode()); err != nil {
		t.Fatal(err)
	}
	e.waitIdle()
	n := e.got()
	if len(n) != 1 || n[0]["sign_type"] != "MD5" || e.verifyFields(n[0]) != nil {
		t.Fatalf("MD5 notification: %v", n)
	}
	// A notify_url nobody listens on: attempts record the error, then the schedule gives up.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + ln.Addr().String() + "/notify"
	ln.Close()
	q := e.orderParams(globalPID, "M2", "2.00", "USD")
	q["notify_url"] = dead
	e.sim.PayOrderString(context.Background(), e.orderString(q, signing.RSA))
	e.waitIdle()
	d := e.sim.DeliveriesFor(globalPID, "M2")[0]
	if d.State != DeliveryFailed || d.Attempts[0].Err == "" {
		t.Fatalf("%+v", d)
	}
}

func TestItBPayExpiryClosesAndNotifies(t *testing.T) {
	e := newEnv(t, Config{TimeScale: 100000})
	p := e.orderParams(globalPID, "E1", "1.00", "USD")
	p["it_b_pay"] = "1m"
	os := e.orderString(p, signing.RSA)
	if _, err := e.sim.OpenOrderString(context.Background(), os); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if o, _ := e.sim.Order(globalPID, "E1"); o.Status == StatusTradeClosed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("order did not close at it_b_pay expiry")
		}
		time.Sleep(5 * time.Millisecond)
	}
	e.waitIdle()
	n := e.got()
	if len(n) != 1 || n[0]["trade_status"] != "TRADE_CLOSED" || e.verifyFields(n[0]) != nil {
		t.Fatalf("close notification: %v", n)
	}
	res, _ := e.sim.PayOrderString(context.Background(), os)
	if res.ResultStatus != ResultFailed || !strings.Contains(res.Memo, "TRADE_HAS_CLOSE") {
		t.Fatalf("paying a closed order: %+v", res)
	}
}

func TestNotificationFaults(t *testing.T) {
	t.Run("duplicate", func(t *testing.T) {
		e := newEnv(t, Config{})
		e.sim.SetFault(Fault{Kind: FaultDuplicate, Service: "notify", Partner: globalPID})
		e.paid(globalPID, "F1", "1.00", "USD")
		e.waitIdle()
		if n := e.got(); len(n) != 2 || n[0]["notify_id"] != n[1]["notify_id"] {
			t.Fatalf("duplicate: %d posts", len(n))
		}
	})
	t.Run("wrong sign then good", func(t *testing.T) {
		e := newEnv(t, Config{})
		e.answer = func(f map[string]string) string {
			if e.verifyFields(f) != nil {
				return "fail"
			}
			return "success"
		}
		e.sim.SetFault(Fault{Kind: FaultWrongSign, Service: "notify", Count: 1})
		e.paid(globalPID, "F2", "1.00", "USD")
		e.waitIdle()
		d := e.sim.DeliveriesFor(globalPID, "F2")[0]
		if len(d.Attempts) != 2 || !d.Attempts[0].WrongSign || d.Attempts[1].WrongSign || d.State != DeliveryDelivered {
			t.Fatalf("%+v", d.Attempts)
		}
	})
	t.Run("drop", func(t *testing.T) {
		e := newEnv(t, Config{})
		e.sim.SetFault(Fault{Kind: FaultDrop, Service: "notify", Count: 2})
		e.paid(globalPID, "F3", "1.00", "USD")
		e.waitIdle()
		d := e.sim.DeliveriesFor(globalPID, "F3")[0]
		if len(d.Attempts) != 3 || !d.Attempts[0].Dropped || len(e.got()) != 1 {
			t.Fatalf("%+v", d.Attempts)
		}
	})
	t.Run("out of order", func(t *testing.T) {
		e := newEnv(t, Config{})
		e.sim.SetFault(Fault{Kind: FaultOutOfOrder, Service: "notify", Count: 1})
		e.paid(globalPID, "F4", "1.00", "USD")
		e.paid(globalPID, "F5", "1.00", "USD")
		e.waitIdle()
		n := e.got()
		if len(n) != 2 || n[0]["out_trade_no"] != "F5" || n[1]["out_trade_no"] != "F4" {
			t.Fatalf("order: %v then %v", n[0]["out_trade_no"], n[1]["out_trade_no"])
		}
	})
	t.Run("scoped to another partner", func(t *testing.T) {
		e := newEnv(t, Config{})
		e.sim.SetFault(Fault{Kind: FaultDrop, Partner: hkPID})
		e.paid(globalPID, "F6", "1.00", "USD")
		e.waitIdle()
		if len(e.got()) != 1 {
			t.Fatal("fault leaked to another partner")
		}
		if f := e.sim.Faults(); len(f) != 1 || f[0].Fired != 0 {
			t.Fatalf("faults: %+v", f)
		}
	})
}

func TestGatewayFaults(t *testing.T) {
	e := newEnv(t, Config{})
	e.paid(globalPID, "GF1", "1.00", "USD")
	e.waitIdle() // an unscoped fault would otherwise fire on the notification
	q := e.signed(map[string]string{"service": "single_trade_query", "partner": globalPID, "_input_charset": "utf-8", "out_trade_no": "GF1"}, signing.RSA2)
	get := func(timeout time.Duration) (*http.Response, error) {
		c := &http.Client{Timeout: timeout}
		return c.Get(e.gw.URL + "/gateway.do?" + q.Encode())
	}
	t.Run("latency", func(t *testing.T) {
		e.sim.SetFault(Fault{Kind: FaultLatency, Service: "single_trade_query", Delay: 150 * time.Millisecond, Count: 1})
		start := time.Now()
		resp, err := get(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if time.Since(start) < 150*time.Millisecond {
			t.Fatal("no latency")
		}
	})
	t.Run("hang until the client gives up", func(t *testing.T) {
		e.sim.SetFault(Fault{Kind: FaultHang, Service: "single_trade_query", Count: 1})
		start := time.Now()
		_, err := get(200 * time.Millisecond)
		if err == nil || time.Since(start) > 3*time.Second {
			t.Fatalf("hang: %v after %v", err, time.Since(start))
		}
	})
	t.Run("drop", func(t *testing.T) {
		e.sim.SetFault(Fault{Kind: FaultDrop, Partner: globalPID, Count: 1})
		if _, err := get(5 * time.Second); err == nil {
			t.Fatal("dropped connection answered")
		}
	})
	t.Run("wrong signature", func(t *testing.T) {
		e.sim.SetFault(Fault{Kind: FaultWrongSign, Service: "single_trade_query", Count: 1})
		resp, err := get(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		resp.Body.Close()
		env, f := parseEnvelope(t, b.String())
		f["sign"], f["sign_type"] = env.Sign, env.SignType
		if env.IsSuccess != "T" || e.verifyFields(f) == nil {
			t.Fatal("signature not corrupted")
		}
	})
	t.Run("wallet result wrong signature", func(t *testing.T) {
		e.sim.SetFault(Fault{Kind: FaultWrongSign, Service: "pay", Count: 1})
		res, _ := e.sim.PayOrderString(context.Background(), e.orderString(e.orderParams(globalPID, "GF2", "1.00", "USD"), signing.RSA))
		i := strings.Index(res.Result, `&sign_type="`)
		sig := strings.TrimSuffix(res.Result[strings.Index(res.Result, `&sign="`)+7:], `"`)
		if e.alipayRSA.Verify(res.Result[:i], sig) == nil {
			t.Fatal("sync result signature not corrupted")
		}
	})
	t.Run("wallet hang respects ctx", func(t *testing.T) {
		e.sim.SetFault(Fault{Kind: FaultHang, Service: "pay", Count: 1})
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		if _, err := e.sim.PayOrderString(ctx, e.orderString(e.orderParams(globalPID, "GF3", "1.00", "USD"), signing.RSA)); err == nil {
			t.Fatal("hang returned no error")
		}
	})
}
