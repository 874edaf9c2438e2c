package antomsim

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/paymux/paymux/core"
)

// Decision is what the buyer does on the wallet page.
type Decision string

const (
	DecisionPay     Decision = "pay"     // pays: SUCCESS and a PAYMENT_RESULT S notification
	DecisionFail    Decision = "fail"    // the wallet declines: FAIL and a PAYMENT_RESULT F notification
	DecisionAbandon Decision = "abandon" // leaves: nothing happens until the order expires (FAIL)
	DecisionPending Decision = "pending" // paid, final result awaited: PENDING and a PAYMENT_PENDING notification
)

// ErrNoPayment is returned for a payment id the simulator does not know.
var ErrNoPayment = errors.New("antomsim: no such payment")

// Decide applies the buyer's decision to a payment, as the wallet page's buttons do.
func (s *Sim) Decide(paymentID string, d Decision) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.payments[paymentID]
	if p == nil {
		return ErrNoPayment
	}
	s.expireIfDue(p)
	if p.status != StatusProcessing && p.status != StatusPending {
		return fmt.Errorf("antomsim: payment %s is %s", paymentID, p.status)
	}
	now := s.now()
	switch d {
	case DecisionPay:
		p.status, p.paidAt, p.resultCode = StatusSuccess, now, ""
		s.notifyPaymentLocked(p, res("S", "SUCCESS", "success"))
	case DecisionFail:
		p.status, p.resultCode = StatusFail, "USER_BALANCE_NOT_ENOUGH"
		s.notifyPaymentLocked(p, res("F", p.resultCode, "the wallet declined the payment"))
	case DecisionPending:
		p.status = StatusPending
		s.notifyLocked(p.clientID, p.notifyURL, s.paymentNote(p, "PAYMENT_PENDING", res("S", "SUCCESS", "success")), 0)
	case DecisionAbandon:
	default:
		return fmt.Errorf("antomsim: unknown decision %q", d)
	}
	if p.status != StatusProcessing && p.status != StatusPending && p.expiryTimer != nil {
		p.expiryTimer.Stop()
	}
	s.logf("%s payment %s: %s -> %s", p.clientID, p.id, d, p.status)
	return nil
}

func (s *Sim) paymentNote(p *payment, typ string, r result) map[string]any {
	n := map[string]any{"notifyType": typ, "result": r, "paymentRequestId": p.requestID, "paymentId": p.id,
		"paymentAmount": p.amount, "paymentCreateTime": p.created.Format(time.RFC3339), "paymentMethodType": p.method}
	if p.status == StatusSuccess {
		n["paymentTime"] = p.paidAt.Format(time.RFC3339)
	}
	return n
}

func (s *Sim) notifyPaymentLocked(p *payment, r result) {
	s.notifyLocked(p.clientID, p.notifyURL, s.paymentNote(p, "PAYMENT_RESULT", r), 0)
}

// armExpiry fails the order when it expires unpaid (caller holds mu).
func (s *Sim) armExpiry(p *payment) {
	d := s.real(p.expires.Sub(s.now()))
	p.expiryTimer = time.AfterFunc(d, func() {
		select {
		case <-s.closed:
			return
		default:
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		// The scaled wait has passed: the order's simulated life is over, whatever the clock says.
		s.expire(p)
	})
}

// expireIfDue fails an unpaid order past its expiry by the clock (caller holds mu).
func (s *Sim) expireIfDue(p *payment) {
	if !s.now().Before(p.expires) {
		s.expire(p)
	}
}

// expire fails an unpaid order and notifies it (caller holds mu).
func (s *Sim) expire(p *payment) {
	if p.status != StatusProcessing {
		return
	}
	p.status, p.resultCode = StatusFail, "ORDER_IS_CLOSED"
	s.notifyPaymentLocked(p, res("F", p.resultCode, "the order expired"))
}

var walletPage = template.Must(template.New("wallet").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Wallet}} (Antom simulator)</title>
<style>body{font-family:sans-serif;max-width:28rem;margin:2rem auto;padding:0 1rem}button{display:block;width:100%;margin:.5rem 0;padding:.8rem;font-size:1rem}</style></head>
<body><h1>{{.Wallet}}</h1><p class="sim">Antom simulator wallet page, not a real wallet.</p>
<p>Pay <strong id="amount">{{.Amount}} {{.Currency}}</strong> to {{.Merchant}}</p>
<p>Order <code>{{.RequestID}}</code> · status <strong id="status">{{.Status}}</strong></p>
{{if .Open}}<form method="post">
<button name="decision" value="pay" id="pay">Pay</button>
<button name="decision" value="fail" id="fail">Decline (wallet refuses)</button>
<button name="decision" value="pending" id="pending">Leave pending (paid, result awaited)</button>
<button name="decision" value="abandon" id="abandon">Abandon and return</button>
</form>{{else}}<p><a id="back" href="{{.Return}}">Back to the shop</a></p>{{end}}
</body></html>`))

// serveWallet is the wallet page of one payment: GET shows it, POST applies the decision and
// sends the buyer back to paymentRedirectUrl (or shows the page again while pending).
func (s *Sim) serveWallet(w http.ResponseWriter, r *http.Request, id string) {
	if r.Method == http.MethodPost {
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		if err := s.Decide(id, Decision(r.PostForm.Get("decision"))); err != nil {
			code := http.StatusConflict
			if errors.Is(err, ErrNoPayment) {
				code = http.StatusNotFound
			}
			http.Error(w, err.Error(), code)
			return
		}
		if Decision(r.PostForm.Get("decision")) != DecisionPending {
			s.mu.Lock()
			to := s.payments[id].redirectURL
			s.mu.Unlock()
			http.Redirect(w, r, to, http.StatusSeeOther)
			return
		}
	}
	s.mu.Lock()
	p := s.payments[id]
	if p == nil {
		s.mu.Unlock()
		http.NotFound(w, r)
		return
	}
	s.expireIfDue(p)
	name := p.clientID
	if m := s.merchants[p.clientID]; m != nil && m.Name != "" {
		name = m.Name
	}
	amount := strconv.FormatInt(p.amount.Value, 10)
	if core.ValidCurrency(p.amount.Currency) {
		amount = core.Money{Value: p.amount.Value, Currency: p.amount.Currency}.Decimal()
	}
	data := map[string]any{"Wallet": strings.ReplaceAll(p.method, "_", " "), "Amount": amount, "Currency": p.amount.Currency,
		"Merchant": name, "RequestID": p.requestID, "Status": p.status, "Return": p.redirectURL,
		"Open": p.status == StatusProcessing || p.status == StatusPending}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = walletPage.Execute(w, data)
}
