package host

import (
	"context"
	"encoding/csv"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host/store"
)

// ReconcileRequest is the body of POST /v1/reconciliations and the flags of paymux reconcile.
type ReconcileRequest struct {
	Account string `json:"account"`
	From    string `json:"from"` // first day, YYYY-MM-DD (or YYYYMMDD), in the provider's settlement zone
	To      string `json:"to"`   // last day, inclusive
	// TimeZone is the IANA zone in which paymux times are compared with the days (e.g.
	// "Asia/Shanghai" for Alipay, whose files use Beijing time); "" means UTC.
	TimeZone string `json:"timezone,omitempty"`
}

// MaxReconcileDays bounds one reconciliation, so one request is bounded work.
const MaxReconcileDays = 93

// ReconcileResult is what became of one settlement record or one paymux item.
type ReconcileResult string

const (
	ReconMatched           ReconcileResult = "matched"             // same reference, amount and currency; paymux has it final
	ReconAmountMismatch    ReconcileResult = "amount_mismatch"     // same reference, another amount or currency
	ReconStatusMismatch    ReconcileResult = "status_mismatch"     // the provider settled it; paymux does not have it succeeded
	ReconMissingInPaymux   ReconcileResult = "missing_in_paymux"   // a provider record paymux has no payment or refund for
	ReconMissingAtProvider ReconcileResult = "missing_at_provider" // succeeded in paymux within the days, absent from the records
)

// ReconcileItem is one line of a report.
type ReconcileItem struct {
	Result         ReconcileResult `json:"result"`
	Kind           core.EventKind  `json:"kind"`                     // payment or refund
	Reference      string          `json:"reference"`                // out_trade_no or out_refund_no
	OrigReference  string          `json:"orig_reference,omitempty"` // refunds: the payment's out_trade_no
	PaymentID      string          `json:"payment_id,omitempty"`
	RefundID       string          `json:"refund_id,omitempty"`
	ProviderRef    string          `json:"provider_ref,omitempty"`
	ProviderAmount *core.Money     `json:"provider_amount,omitempty"`
	Fee            *core.Money     `json:"fee,omitempty"`
	PaymuxAmount   *core.Money     `json:"paymux_amount,omitempty"`
	PaymuxStatus   string          `json:"paymux_status,omitempty"`
	ProviderStatus string          `json:"provider_status,omitempty"`
	OccurredAt     *time.Time      `json:"occurred_at,omitempty"` // the provider's transaction time, or paymux's paid/refunded time
	SettledAt      *time.Time      `json:"settled_at,omitempty"`
}

// ReconcileSummary counts the items by result.
type ReconcileSummary struct {
	Records           int `json:"records"` // settlement records read from the provider
	Matched           int `json:"matched"`
	AmountMismatches  int `json:"amount_mismatches"`
	StatusMismatches  int `json:"status_mismatches"`
	MissingInPaymux   int `json:"missing_in_paymux"`
	MissingAtProvider int `json:"missing_at_provider"`
}

// CurrencyTotals are one currency's sums in minor units. Net is what the provider's records
// say the merchant receives: payments - refunds - fees.
type CurrencyTotals struct {
	Currency         string `json:"currency"`
	ProviderPayments int64  `json:"provider_payments"`
	ProviderRefunds  int64  `json:"provider_refunds"`
	Fees             int64  `json:"fees"`
	Net              int64  `json:"net"`
	PaymuxPayments   int64  `json:"paymux_payments"` // paymux's amounts of the items in the report
	PaymuxRefunds    int64  `json:"paymux_refunds"`
}

// ReconcileReport is the outcome of one reconciliation.
type ReconcileReport struct {
	Account  string           `json:"account"`
	Provider string           `json:"provider"`
	From     string           `json:"from"`
	To       string           `json:"to"`
	TimeZone string           `json:"timezone"`
	Summary  ReconcileSummary `json:"summary"`
	Totals   []CurrencyTotals `json:"totals"`
	Items    []ReconcileItem  `json:"items"`
}

// ReconcileOptions tune one reconciliation.
type ReconcileOptions struct {
	// Progress, when set, is called after each settlement record with the count so far.
	Progress func(records int)
	// Timeout bounds the provider's fetch; 0 means 10 minutes.
	Timeout time.Duration
}

// parseDay accepts YYYY-MM-DD or YYYYMMDD.
func parseDay(field, s string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02", "20060102"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, core.ParamErrorf(core.EINVALID, field, "%s must be a date YYYY-MM-DD", field)
}

func (r *ReconcileRequest) days() (from, to time.Time, loc *time.Location, err error) {
	if strings.TrimSpace(r.Account) == "" {
		return from, to, nil, core.ParamErrorf(core.EINVALID, "account", "account is required")
	}
	if from, err = parseDay("from", r.From); err != nil {
		return
	}
	if to, err = parseDay("to", r.To); err != nil {
		return
	}
	if to.Before(from) {
		return from, to, nil, core.ParamErrorf(core.EINVALID, "to", "to is before from")
	}
	if to.Sub(from) >= MaxReconcileDays*24*time.Hour {
		return from, to, nil, core.ParamErrorf(core.EINVALID, "to", "at most %d days per reconciliation", MaxReconcileDays)
	}
	loc = time.UTC
	if r.TimeZone != "" {
		if loc, err = time.LoadLocation(r.TimeZone); err != nil {
			return from, to, nil, core.ParamErrorf(core.EINVALID, "timezone", "timezone %q is not an IANA time zone", r.TimeZone)
		}
	}
	return from, to, loc, nil
}

// Reconcile matches the provider's settlement records for the days [From, To] against
// paymux's payments and refunds of the account. Records are streamed: each is matched as it
// arrives against the paymux items of the days (loaded once by date range, and looked up by
// reference when a record falls outside it); what paymux has succeeded within the days and the
// records never mentioned is missing at the provider. A provider without core.CapSettlement is
// EUNSUPPORTED.
func (s *Service) Reconcile(ctx context.Context, req *ReconcileRequest, o ReconcileOptions) (*ReconcileReport, error) {
	from, to, loc, err := req.days()
	if err != nil {
		return nil, err
	}
	if !CallerFrom(ctx).accountLevel(req.Account) {
		return nil, core.Errorf(core.ENOTFOUND, "unknown account %q", req.Account)
	}
	prov, desc, err := s.provider(ctx, req.Account)
	if err != nil {
		return nil, err
	}
	fetcher, ok := prov.(core.SettlementFetcher)
	if !desc.Has(core.CapSettlement) || !ok {
		return nil, core.Errorf(core.EUNSUPPORTED, "the provider of account %s offers no settlement records (unsupported)", req.Account)
	}
	// The days in the comparison zone: [start, end).
	start := time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, loc)
	end := time.Date(to.Year(), to.Month(), to.Day()+1, 0, 0, 0, 0, loc)

	m := &matcher{s: s, account: req.Account, start: start, end: end, totals: map[string]*CurrencyTotals{}}
	if err := m.load(ctx); err != nil {
		return nil, err
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Minute
	}
	fctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err = fetcher.FetchSettlement(fctx, &core.SettlementRequest{
		Account: req.Account,
		From:    time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, time.UTC),
		To:      time.Date(to.Year(), to.Month(), to.Day(), 0, 0, 0, 0, time.UTC),
	}, func(rec *core.SettlementRecord) error {
		if err := m.record(ctx, rec); err != nil {
			return err
		}
		if o.Progress != nil {
			o.Progress(m.rep.Summary.Records)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	m.finish()
	m.rep.Account, m.rep.Provider, m.rep.TimeZone = req.Account, desc.Name, loc.String()
	m.rep.From, m.rep.To = from.Format("2006-01-02"), to.Format("2006-01-02")
	return &m.rep, nil
}

// matcher holds one reconciliation's state.
type matcher struct {
	s          *Service
	account    string
	start, end time.Time
	payments   map[string]*store.Payment // out_trade_no -> succeeded within the days, not yet seen
	refunds    map[string]*store.Refund  // out_refund_no -> succeeded within the days, not yet seen
	totals     map[string]*CurrencyTotals
	rep        ReconcileReport
}

// loadMargin widens the creation-time window of the paymux side: a payment is created before
// it is paid, a refund before it succeeds.
const loadMargin = 3 * 24 * time.Hour

func (m *matcher) in(t time.Time) bool { return !t.IsZero() && !t.Before(m.start) && t.Before(m.end) }

// load reads the paymux items that succeeded within the days, page by page.
func (m *matcher) load(ctx context.Context) error {
	m.payments, m.refunds = map[string]*store.Payment{}, map[string]*store.Refund{}
	cursor := ""
	for {
		ps, next, err := m.s.store.ListPayments(ctx, store.PaymentFilter{Account: m.account, Status: core.PaymentSucceeded,
			From: m.start.Add(-loadMargin), To: m.end, Limit: store.MaxPageSize, Cursor: cursor})
		if err != nil {
			return err
		}
		for _, p := range ps {
			if m.in(p.PaidAt) {
				m.payments[p.OutTradeNo] = p
			}
		}
		if cursor = next; cursor == "" {
			break
		}
	}
	for {
		rs, next, err := m.s.store.ListRefunds(ctx, store.RefundFilter{Account: m.account, Status: core.RefundSucceeded,
			From: m.start.Add(-loadMargin), To: m.end, Limit: store.MaxPageSize, Cursor: cursor})
		if err != nil {
			return err
		}
		for _, r := range rs {
			if m.in(r.UpdatedAt) {
				m.refunds[r.OutRefundNo] = r
			}
		}
		if cursor = next; cursor == "" {
			break
		}
	}
	return nil
}

func (m *matcher) total(currency string) *CurrencyTotals {
	t := m.totals[currency]
	if t == nil {
		t = &CurrencyTotals{Currency: currency}
		m.totals[currency] = t
	}
	return t
}

func moneyPtr(v core.Money) *core.Money { return &v }

// record matches one settlement record.
func (m *matcher) record(ctx context.Context, rec *core.SettlementRecord) error {
	m.rep.Summary.Records++
	it := ReconcileItem{
		Kind: rec.Kind, Reference: rec.Reference, OrigReference: rec.OrigRef, ProviderRef: rec.ProviderRef,
		ProviderAmount: moneyPtr(rec.Amount), ProviderStatus: rec.Status, OccurredAt: timePtr(rec.OccurredAt), SettledAt: timePtr(rec.SettledAt),
	}
	if rec.Fee.Currency != "" {
		it.Fee = moneyPtr(rec.Fee)
	}
	t := m.total(rec.Amount.Currency)
	switch rec.Kind {
	case core.EventRefund:
		t.ProviderRefunds += rec.Amount.Value
	default:
		t.ProviderPayments += rec.Amount.Value
	}
	if rec.Fee.Currency != "" {
		m.total(rec.Fee.Currency).Fees += rec.Fee.Value
	}

	var amount core.Money
	var final bool
	switch rec.Kind {
	case core.EventRefund:
		r := m.refunds[rec.Reference]
		if r != nil {
			delete(m.refunds, rec.Reference)
		} else {
			var err error
			if r, err = m.s.store.GetRefundByOutRefundNo(ctx, m.account, rec.Reference); err != nil && !isCode(err, core.ENOTFOUND) {
				return err
			}
		}
		if r == nil {
			return m.add(it, ReconMissingInPaymux)
		}
		it.PaymentID, it.RefundID, it.PaymuxStatus = r.PaymentID, r.ID, string(r.Status)
		amount, final = r.Amount, r.Status == core.RefundSucceeded
		m.total(amount.Currency).PaymuxRefunds += amount.Value
	default:
		p := m.payments[rec.Reference]
		if p != nil {
			delete(m.payments, rec.Reference)
		} else {
			var err error
			if p, err = m.s.store.GetPaymentByOutTradeNo(ctx, m.account, rec.Reference); err != nil && !isCode(err, core.ENOTFOUND) {
				return err
			}
		}
		if p == nil {
			return m.add(it, ReconMissingInPaymux)
		}
		it.PaymentID, it.PaymuxStatus = p.ID, string(p.Status)
		amount, final = p.Amount, p.Status == core.PaymentSucceeded
		m.total(amount.Currency).PaymuxPayments += amount.Value
	}
	it.PaymuxAmount = moneyPtr(amount)
	switch {
	case amount != rec.Amount:
		return m.add(it, ReconAmountMismatch)
	case !final:
		return m.add(it, ReconStatusMismatch)
	}
	return m.add(it, ReconMatched)
}

func (m *matcher) add(it ReconcileItem, res ReconcileResult) error {
	it.Result = res
	switch res {
	case ReconMatched:
		m.rep.Summary.Matched++
	case ReconAmountMismatch:
		m.rep.Summary.AmountMismatches++
	case ReconStatusMismatch:
		m.rep.Summary.StatusMismatches++
	case ReconMissingInPaymux:
		m.rep.Summary.MissingInPaymux++
	case ReconMissingAtProvider:
		m.rep.Summary.MissingAtProvider++
	}
	m.rep.Items = append(m.rep.Items, it)
	return nil
}

// finish reports what paymux has and the records never mentioned, and computes the totals.
func (m *matcher) finish() {
	var missing []ReconcileItem
	for _, p := range m.payments {
		missing = append(missing, ReconcileItem{Kind: core.EventPayment, Reference: p.OutTradeNo, PaymentID: p.ID,
			ProviderRef: p.ProviderRef, PaymuxAmount: moneyPtr(p.Amount), PaymuxStatus: string(p.Status), OccurredAt: timePtr(p.PaidAt)})
		m.total(p.Amount.Currency).PaymuxPayments += p.Amount.Value
	}
	for _, r := range m.refunds {
		missing = append(missing, ReconcileItem{Kind: core.EventRefund, Reference: r.OutRefundNo, PaymentID: r.PaymentID, RefundID: r.ID,
			ProviderRef: r.ProviderRef, PaymuxAmount: moneyPtr(r.Amount), PaymuxStatus: string(r.Status), OccurredAt: timePtr(r.UpdatedAt)})
		m.total(r.Amount.Currency).PaymuxRefunds += r.Amount.Value
	}
	// Maps iterate in random order; the report must be stable.
	slices.SortFunc(missing, func(a, b ReconcileItem) int {
		if c := a.OccurredAt.Compare(*b.OccurredAt); c != 0 {
			return c
		}
		return strings.Compare(a.Reference, b.Reference)
	})
	for _, it := range missing {
		_ = m.add(it, ReconMissingAtProvider)
	}
	m.rep.Totals = make([]CurrencyTotals, 0, len(m.totals))
	for _, t := range m.totals {
		t.Net = t.ProviderPayments - t.ProviderRefunds - t.Fees
		m.rep.Totals = append(m.rep.Totals, *t)
	}
	slices.SortFunc(m.rep.Totals, func(a, b CurrencyTotals) int { return strings.Compare(a.Currency, b.Currency) })
	if m.rep.Items == nil {
		m.rep.Items = []ReconcileItem{}
	}
}

// ReconcileCSVHeader is the first line of a report as CSV.
var ReconcileCSVHeader = []string{
	"result", "kind", "reference", "orig_reference", "payment_id", "refund_id", "provider_ref",
	"provider_amount", "provider_currency", "fee", "paymux_amount", "paymux_currency", "paymux_status",
	"provider_status", "occurred_at", "settled_at",
}

// WriteCSV writes the report as CSV: one row per item, then one "total" row per currency whose
// kind is payments, refunds, fees or net. Amounts are decimal strings in the currency's units.
func (r *ReconcileReport) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(ReconcileCSVHeader); err != nil {
		return err
	}
	dec := func(m *core.Money) (string, string) {
		if m == nil {
			return "", ""
		}
		return m.Decimal(), m.Currency
	}
	ts := func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	for _, it := range r.Items {
		pa, pc := dec(it.ProviderAmount)
		fee, _ := dec(it.Fee)
		ma, mc := dec(it.PaymuxAmount)
		if err := cw.Write([]string{string(it.Result), string(it.Kind), it.Reference, it.OrigReference, it.PaymentID, it.RefundID,
			it.ProviderRef, pa, pc, fee, ma, mc, it.PaymuxStatus, it.ProviderStatus, ts(it.OccurredAt), ts(it.SettledAt)}); err != nil {
			return err
		}
	}
	for _, t := range r.Totals {
		money := func(v int64) string { return core.Money{Value: v, Currency: t.Currency}.Decimal() }
		for _, row := range [][]string{
			{"total", "payments", "", "", "", "", "", money(t.ProviderPayments), t.Currency, "", money(t.PaymuxPayments), t.Currency},
			{"total", "refunds", "", "", "", "", "", money(t.ProviderRefunds), t.Currency, "", money(t.PaymuxRefunds), t.Currency},
			{"total", "fees", "", "", "", "", "", "", t.Currency, money(t.Fees), "", ""},
			{"total", "net", "", "", "", "", "", money(t.Net), t.Currency, "", "", ""},
		} {
			if err := cw.Write(append(row, make([]string, len(ReconcileCSVHeader)-len(row))...)); err != nil {
				return err
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

// SummaryLine is a one-line account of a report, for logs and the CLI.
func (r *ReconcileReport) SummaryLine() string {
	s := r.Summary
	return "records=" + strconv.Itoa(s.Records) + " matched=" + strconv.Itoa(s.Matched) +
		" amount_mismatches=" + strconv.Itoa(s.AmountMismatches) + " status_mismatches=" + strconv.Itoa(s.StatusMismatches) +
		" missing_in_paymux=" + strconv.Itoa(s.MissingInPaymux) + " missing_at_provider=" + strconv.Itoa(s.MissingAtProvider)
}
