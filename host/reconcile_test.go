package host_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host"
	"github.com/paymux/paymux/host/httpapi"
	"github.com/paymux/paymux/host/store"
	"github.com/paymux/paymux/providers/alipay"
	"github.com/paymux/paymux/providers/mapisim"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata/")

// reconWorld is a simulated world where a few orders were paid two days ago (Beijing noon),
// one was refunded in part, and the clock is now back at the present, so that the day's
// forex_compare_file is complete. names maps every generated id to a stable name, for golden
// files.
type reconWorld struct {
	*simWorld
	day   time.Time // the day of the payments, 00:00 UTC
	names [][2]string
}

func (w *reconWorld) name(generated, stable string) {
	w.names = append(w.names, [2]string{generated, stable})
}

func (w *reconWorld) normalise(s string) string {
	for _, n := range w.names {
		s = strings.ReplaceAll(s, n[0], n[1])
	}
	s = strings.ReplaceAll(s, w.day.AddDate(0, 0, -1).Format("2006-01-02"), "DAY-1")
	s = strings.ReplaceAll(s, w.day.Format("2006-01-02"), "DAY")
	return strings.ReplaceAll(s, w.day.AddDate(0, 0, 1).Format("2006-01-02"), "DAY+1")
}

func newReconWorld(t *testing.T) *reconWorld {
	t.Helper()
	y, m, d := time.Now().UTC().AddDate(0, 0, -2).Date()
	day := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	w := &reconWorld{simWorld: newSimWorld(t, newTestStore(t), day.Add(4*time.Hour)), day: day}
	ctx := context.Background()

	paid := func(cents int64, name string) *host.Payment {
		p := w.create(t, cents, name)
		w.pay(t, p)
		got, err := w.svc.GetPayment(ctx, p.ID, true) // the notification is lost; a query learns it
		if err != nil || got.Status != core.PaymentSucceeded {
			t.Fatalf("payment %s: %+v %v", name, got, err)
		}
		w.name(p.ID, "pay_"+name)
		w.name(p.OutTradeNo, "otn_"+name)
		w.name(got.ProviderRef, "trade_"+name)
		w.clock.advance(time.Minute)
		return got
	}
	paid(1000, "matched")
	refunded := paid(2500, "refunded")
	mismatch := paid(4000, "mismatch")

	rf, err := w.svc.CreateRefund(ctx, refunded.ID, &host.CreateRefundRequest{Amount: core.Money{Value: 800, Currency: "USD"}, Reason: "one cup broken"})
	if err != nil || rf.Status != core.RefundSucceeded {
		t.Fatalf("refund: %+v %v", rf, err)
	}
	w.name(rf.ID, "rf_refunded")
	w.name(rf.OutRefundNo, "orn_refunded")

	// paymux believes another amount (as after a bad manual fix): an amount mismatch.
	if err := w.store.InTx(ctx, func(tx store.Tx) error {
		p, err := tx.LockPayment(ctx, mismatch.ID)
		if err != nil {
			return err
		}
		p.Amount.Value = 4100
		return tx.UpdatePayment(ctx, p)
	}); err != nil {
		t.Fatal(err)
	}

	// Paid at the gateway under an order paymux never created: missing in paymux.
	res, err := w.prov.CreatePayment(ctx, &core.CreatePaymentRequest{Account: "acct", OutTradeNo: "foreign-order-1", Method: alipay.MethodID,
		Channel: core.ChannelApp, Amount: core.Money{Value: 300, Currency: "USD"}, Subject: "Tea", NotifyURL: "http://127.0.0.1:9/"})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := w.sim.PayOrderString(ctx, res.Action.Value); err != nil || r.ResultStatus != mapisim.ResultSuccess {
		t.Fatalf("foreign pay: %+v %v", r, err)
	}
	if o, ok := w.sim.Order(simPartner, "foreign-order-1"); ok {
		w.name(o.TradeNo, "trade_foreign")
	}

	// Succeeded in paymux, unknown to the gateway: missing at the provider.
	ghost := &store.Payment{ID: "pay_ghost", Account: "acct", Region: "CN", Method: alipay.MethodID, Channel: core.ChannelApp,
		OutTradeNo: "otn_ghost", Amount: core.Money{Value: 1200, Currency: "USD"}, Status: core.PaymentSucceeded, Subject: "Tea",
		PaidAt: day.Add(5 * time.Hour), CreatedAt: day.Add(5 * time.Hour)}
	if err := w.store.InsertPayment(ctx, ghost); err != nil {
		t.Fatal(err)
	}
	// Paid the day before in Beijing (15:00): outside the range, so neither matched nor missing.
	early := &store.Payment{ID: "pay_early", Account: "acct", Region: "CN", Method: alipay.MethodID, Channel: core.ChannelApp,
		OutTradeNo: "otn_early", Amount: core.Money{Value: 1300, Currency: "USD"}, Status: core.PaymentSucceeded, Subject: "Tea",
		PaidAt: day.Add(-17 * time.Hour), CreatedAt: day.Add(-17 * time.Hour)}
	if err := w.store.InsertPayment(ctx, early); err != nil {
		t.Fatal(err)
	}

	w.clock.set(time.Now()) // the day is over: its file is complete
	return w
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *updateGolden {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden %s: %v (run with -update to create it)", path, err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// TestReconcileMapisim reconciles a day of the simulator's forex_compare_file against paymux:
// two payments and a refund match, one amount differs, one gateway payment is unknown to paymux
// and one paymux payment is unknown to the gateway; fees and totals per currency.
func TestReconcileMapisim(t *testing.T) {
	w := newReconWorld(t)
	day := w.day.Format("2006-01-02")
	var progress []int
	rep, err := w.svc.Reconcile(context.Background(), &host.ReconcileRequest{Account: "acct", From: day, To: day, TimeZone: "Asia/Shanghai"},
		host.ReconcileOptions{Progress: func(n int) { progress = append(progress, n) }})
	if err != nil {
		t.Fatalf("reconcile: %v", err)
	}
	want := host.ReconcileSummary{Records: 5, Matched: 3, AmountMismatches: 1, MissingInPaymux: 1, MissingAtProvider: 1}
	if rep.Summary != want {
		t.Errorf("summary %+v\nwant    %+v", rep.Summary, want)
	}
	if len(progress) != 5 || progress[4] != 5 {
		t.Errorf("progress %v", progress)
	}
	if len(rep.Totals) != 1 {
		t.Fatalf("totals %+v", rep.Totals)
	}
	tot := rep.Totals[0]
	// Gateway: payments 10.00+25.00+40.00+3.00, refund 8.00; fees 1.8% rounded per line.
	wantTot := host.CurrencyTotals{Currency: "USD", ProviderPayments: 7800, ProviderRefunds: 800,
		Fees: 18 + 45 + 72 + 5 + 14, PaymuxPayments: 1000 + 2500 + 4100 + 1200, PaymuxRefunds: 800}
	wantTot.Net = wantTot.ProviderPayments - wantTot.ProviderRefunds - wantTot.Fees
	if tot != wantTot {
		t.Errorf("totals %+v\nwant   %+v", tot, wantTot)
	}
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "reconcile_mapisim.json", []byte(w.normalise(string(js))+"\n"))
	var csvOut bytes.Buffer
	if err := rep.WriteCSV(&csvOut); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "reconcile_mapisim.csv", []byte(w.normalise(csvOut.String())))
}

// TestReconcileRefusals: bad requests, and a provider without settlement records.
func TestReconcileRefusals(t *testing.T) {
	w := newSimWorld(t, newTestStore(t), janitorStart)
	ctx := context.Background()
	for _, tc := range []struct {
		req  host.ReconcileRequest
		code string
	}{
		{host.ReconcileRequest{From: "2026-11-01", To: "2026-11-02"}, core.EINVALID},
		{host.ReconcileRequest{Account: "acct", From: "11/01/2026", To: "2026-11-02"}, core.EINVALID},
		{host.ReconcileRequest{Account: "acct", From: "2026-11-03", To: "2026-11-02"}, core.EINVALID},
		{host.ReconcileRequest{Account: "acct", From: "2026-01-01", To: "2026-11-02"}, core.EINVALID},
		{host.ReconcileRequest{Account: "acct", From: "2026-11-01", To: "2026-11-02", TimeZone: "Mars/Olympus"}, core.EINVALID},
		{host.ReconcileRequest{Account: "nobody", From: "2026-11-01", To: "2026-11-02"}, core.ENOTFOUND},
	} {
		if _, err := w.svc.Reconcile(ctx, &tc.req, host.ReconcileOptions{}); core.ErrorCode(err) != tc.code {
			t.Errorf("%+v: %v, want %s", tc.req, err, tc.code)
		}
	}
	w.provs.mu.Lock()
	w.provs.accs["acct"] = noSettlement{w.prov}
	w.provs.mu.Unlock()
	_, err := w.svc.Reconcile(ctx, &host.ReconcileRequest{Account: "acct", From: "2026-11-01", To: "2026-11-02"}, host.ReconcileOptions{})
	if core.ErrorCode(err) != core.EUNSUPPORTED || !strings.Contains(err.Error(), "unsupported") {
		t.Errorf("no settlement capability: %v", err)
	}
}

// noSettlement hides the settlement capability.
type noSettlement struct{ *countingProvider }

func (n noSettlement) Describe(ctx context.Context) (*core.Description, error) {
	d, err := n.countingProvider.Describe(ctx)
	if err != nil {
		return nil, err
	}
	c := *d
	c.Capabilities = nil
	for _, x := range d.Capabilities {
		if x != core.CapSettlement {
			c.Capabilities = append(c.Capabilities, x)
		}
	}
	return &c, nil
}

// TestReconcileHTTP: POST /v1/reconciliations answers the same report as JSON, and as CSV by
// ?format=csv or by Accept: text/csv.
func TestReconcileHTTP(t *testing.T) {
	w := newReconWorld(t)
	api := httpapi.New(httpapi.Options{Service: w.svc, Keys: httpapi.StaticKeys([]string{testAPIKey})})
	srv := httptest.NewServer(api.Handler())
	t.Cleanup(srv.Close)
	day := w.day.Format("2006-01-02")
	body := `{"account":"acct","from":"` + day + `","to":"` + day + `","timezone":"Asia/Shanghai"}`
	// Every answer, JSON, CSV or error, is checked against the OpenAPI document.
	oas := &env{t: t, oas: openAPIValidator(t)}
	post := func(query, accept, body string) (int, string, string) {
		t.Helper()
		req, _ := http.NewRequest("POST", srv.URL+"/v1/reconciliations"+query, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+testAPIKey)
		req.Header.Set("Content-Type", "application/json")
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		oas.checkOpenAPI(req, []byte(body), resp, b)
		return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
	}
	code, ctype, got := post("", "", body)
	if code != 200 || ctype != "application/json" {
		t.Fatalf("json: %d %s %s", code, ctype, got)
	}
	var rep host.ReconcileReport
	if err := json.Unmarshal([]byte(got), &rep); err != nil {
		t.Fatal(err)
	}
	js, _ := json.MarshalIndent(&rep, "", "  ")
	checkGolden(t, "reconcile_mapisim.json", []byte(w.normalise(string(js))+"\n"))
	for _, tc := range []struct{ query, accept string }{{"?format=csv", ""}, {"", "text/csv"}, {"", "text/csv;q=0.9, application/json;q=0.5"}} {
		code, ctype, got := post(tc.query, tc.accept, body)
		if code != 200 || ctype != "text/csv; charset=utf-8" {
			t.Fatalf("%+v: %d %s %s", tc, code, ctype, got)
		}
		checkGolden(t, "reconcile_mapisim.csv", []byte(w.normalise(got)))
	}
	for _, tc := range []struct {
		query, body string
		code        int
	}{
		{"?format=xml", body, 400},
		{"", `{"account":"acct","from":"` + day + `"}`, 400},
		{"", `{"account":"acct","from":"` + day + `","to":"` + day + `","extra":1}`, 400},
		{"", `{"account":"nobody","from":"` + day + `","to":"` + day + `"}`, 404},
	} {
		if code, _, got := post(tc.query, "", tc.body); code != tc.code || !strings.Contains(got, `"error"`) {
			t.Errorf("%s %s: %d %s, want %d", tc.query, tc.body, code, got, tc.code)
		}
	}
}
