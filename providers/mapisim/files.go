package mapisim

import (
	"archive/zip"
	"bytes"
	"encoding/csv"
	"fmt"
	"slices"
	"strings"
	"time"
)

// rates are CNY per unit of currency times 10000 (forex_rate_file and rmb_fee conversion). Fixed,
// so that tests are deterministic.
var rates = map[string]int64{
	"AUD": 47210, "CAD": 52050, "CHF": 80420, "DKK": 10410, "EUR": 77650, "GBP": 90800,
	"HKD": 9140, "JPY": 478, "KRW": 52, "NOK": 6650, "NZD": 42900, "SEK": 6780,
	"SGD": 53600, "THB": 2010, "USD": 71234, "MOP": 8870, "RUB": 780,
}

// txRow is one line of a reconciliation file: a payment or a refund.
type txRow struct {
	partnerTxID string // out_trade_no or out_return_no
	tradeNo     string
	amount      int64
	fee         int64
	currency    string
	txTime      time.Time
	settleTime  time.Time // zero when not settled yet
	typ         string    // P or R
	issue       string    // ALIPAYHK or ALIPAYCN
	original    string    // refunds: the payment's out_trade_no
	rmbAmount   string
}

// settleAt is when a transaction settles: the next day at 10:00 Beijing time.
func settleAt(t time.Time) time.Time {
	y, m, d := t.In(beijing).Date()
	return time.Date(y, m, d+1, 10, 0, 0, 0, beijing)
}

func fee(amount, bp int64) int64 { return (amount*bp + 5000) / 10000 }

// rowsLocked lists payments and refunds of a partner whose transaction time is in [from, to).
func (s *Sim) rowsLocked(partner string, from, to time.Time) []txRow {
	ps := s.partners[partner]
	var bp int64
	if ps != nil {
		bp = ps.FeeBasisPoints
	}
	now := s.now()
	in := func(t time.Time) bool { return !t.IsZero() && !t.Before(from) && t.Before(to) }
	settled := func(t time.Time) time.Time {
		if st := settleAt(t); !st.After(now) {
			return st
		}
		return time.Time{}
	}
	var rows []txRow
	for _, k := range s.orderFIFO {
		o := s.orders[k]
		if o == nil || o.Partner != partner {
			continue
		}
		issue := "ALIPAYCN"
		if o.PaymentInst == "ALIPAYHK" {
			issue = "ALIPAYHK"
		}
		if in(o.Paid) {
			rows = append(rows, txRow{partnerTxID: o.OutTradeNo, tradeNo: o.TradeNo, amount: o.Amount, fee: fee(o.Amount, bp),
				currency: o.Currency, txTime: o.Paid, settleTime: settled(o.Paid), typ: "P", issue: issue, rmbAmount: o.RMBFee})
		}
		for _, rn := range o.Refunds {
			r := s.refunds[orderKey{partner, rn}]
			if r == nil || r.Status != RefundSuccess || !in(r.Done) {
				continue
			}
			rows = append(rows, txRow{partnerTxID: r.OutReturnNo, tradeNo: r.TradeNo, amount: r.Amount, fee: fee(r.Amount, bp),
				currency: r.Currency, txTime: r.Done, settleTime: settled(r.Done), typ: "R", issue: issue, original: o.OutTradeNo})
		}
	}
	slices.SortStableFunc(rows, func(a, b txRow) int { return a.txTime.Compare(b.txTime) })
	return rows
}

const fileDay = "20060102"

// dateRange checks start_date/end_date like forex_compare_file (alipay-crossborder.md §12.1) and
// returns [from, to) or the plain-text error the gateway answers.
func (s *Sim) dateRange(p map[string]string) (time.Time, time.Time, string) {
	from, err1 := time.ParseInLocation(fileDay, p["start_date"], beijing)
	to, err2 := time.ParseInLocation(fileDay, p["end_date"], beijing)
	if err1 != nil || err2 != nil {
		return time.Time{}, time.Time{}, "Date format incorrect YYYYMMDD"
	}
	y, m, d := s.now().Date()
	today := time.Date(y, m, d, 0, 0, 0, 0, beijing)
	switch {
	case to.Before(from):
		return time.Time{}, time.Time{}, "Finish date ahead of begin date"
	case !to.Before(today):
		return time.Time{}, time.Time{}, "Finish date not ahead of today"
	case to.Sub(from) > 10*24*time.Hour:
		return time.Time{}, time.Time{}, "File download failed:Over 10 days to Date period"
	}
	return from, to.AddDate(0, 0, 1), ""
}

func pipeRows(rows []txRow, settledOnly bool) string {
	var b strings.Builder
	for _, r := range rows {
		if settledOnly && r.settleTime.IsZero() {
			continue
		}
		status, st := "P", ""
		if !r.settleTime.IsZero() {
			status, st = "L", r.settleTime.Format("20060102150405")
		}
		fmt.Fprintf(&b, "%s|%s|%s|%s|%s|%s|%s|%s|%s\r\n", r.partnerTxID, moneyDec(r.amount, r.currency), r.currency,
			r.txTime.Format("20060102150405"), st, r.typ, moneyDec(r.fee, r.currency), status, "")
	}
	return b.String()
}

// compareFile implements forex_compare_file: `|`-separated, one transaction per line, no header.
func (s *Sim) compareFile(req *gwRequest) gwResponse {
	return s.pipeFile(req, false, "No balance account data in the period")
}

// liquidationFile implements forex_liquidation_file: the settled transactions only.
func (s *Sim) liquidationFile(req *gwRequest) gwResponse {
	return s.pipeFile(req, true, "No balance amount data in the period")
}

// pipeFile answers the two `|`-separated files over the request's date range; empty is the
// gateway's text for a period without rows.
func (s *Sim) pipeFile(req *gwRequest, settledOnly bool, empty string) gwResponse {
	from, to, msg := s.dateRange(req.params)
	if msg != "" {
		return gwResponse{text: msg}
	}
	s.mu.Lock()
	body := pipeRows(s.rowsLocked(req.partner.ID, from, to), settledOnly)
	s.mu.Unlock()
	if body == "" {
		return gwResponse{text: empty}
	}
	return gwResponse{text: body}
}

// rateFile implements forex_rate_file: Date|Time|Currency|Rate, today only.
func (s *Sim) rateFile(req *gwRequest) gwResponse {
	now := s.now()
	codes := make([]string, 0, len(rates))
	for c := range rates {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	var b strings.Builder
	for _, c := range codes {
		r := rates[c]
		fmt.Fprintf(&b, "%s|%s|%s|%d.%04d\r\n", now.Format(fileDay), "093000", c, r/10000, r%10000)
	}
	return gwResponse{text: b.String()}
}

// FPTradeHeader is the header row of the AlipayHK transaction file (alipayhk.md §14.2); the
// fifth column is unnamed in the sample.
var FPTradeHeader = []string{"Partner_transaction_id", "Transaction_id", "Amount", "Fee", "", "Settlement",
	"Currency", "Payment_time", "Settlement_time", "Issue", "Product", "Type", "Status", "Remarks",
	"original_partner_transaction_ID"}

func csvRows(rows []txRow) []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write(FPTradeHeader)
	for _, r := range rows {
		status, st := "P", ""
		if !r.settleTime.IsZero() {
			status, st = "L", r.settleTime.Format(timeLayout)
		}
		w.Write([]string{r.partnerTxID, r.tradeNo, moneyDec(r.amount, r.currency), moneyDec(r.fee, r.currency), "",
			moneyDec(r.amount-r.fee, r.currency), r.currency, r.txTime.Format(timeLayout), st, r.issue, "Cross_wap",
			r.typ, status, "", r.original})
	}
	w.Flush()
	return buf.Bytes()
}

// FPTradeCSV returns `<PID>_fptrade_<YYYYMMDD>.csv` of an AlipayHK partner for one day (Beijing
// date): every payment and refund of that day, with a header row.
func (s *Sim) FPTradeCSV(partner string, day time.Time) []byte {
	from := dayStart(day)
	s.mu.Lock()
	defer s.mu.Unlock()
	return csvRows(s.rowsLocked(partner, from, from.AddDate(0, 0, 1)))
}

func dayStart(t time.Time) time.Time {
	y, m, d := t.In(beijing).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, beijing)
}

// SettlementZip returns `<PID>_<YYYYMMDD>.zip` for a settlement day: the batch summary
// `<PID>_settlebatch_<YYYYMMDD>.csv` and the detail `<PID>_settle_<YYYYMMDD>_<BatchID>.csv` of the
// transactions settled that day (alipayhk.md §14.3). ok is false when nothing settled that day.
func (s *Sim) SettlementZip(partner string, day time.Time) ([]byte, bool, error) {
	d := dayStart(day)
	s.mu.Lock()
	all := s.rowsLocked(partner, d.AddDate(0, 0, -1), d)
	s.mu.Unlock()
	var rows []txRow
	for _, r := range all {
		if !r.settleTime.IsZero() && dayStart(r.settleTime).Equal(d) {
			rows = append(rows, r)
		}
	}
	if len(rows) == 0 {
		return nil, false, nil
	}
	var amount, fees int64
	for _, r := range rows {
		sign := int64(1)
		if r.typ == "R" {
			sign = -1
		}
		amount += sign * r.amount
		fees += sign * r.fee
	}
	cur := rows[0].currency
	batch := "5000" + d.Format(fileDay) + partner[len(partner)-8:]
	var summary bytes.Buffer
	cw := csv.NewWriter(&summary)
	cw.Write([]string{"Settle_batch_no", "Settle_date", "Amount", "Fee", "Settlement", "Currency"})
	cw.Write([]string{batch, d.Add(10 * time.Hour).Format(timeLayout), moneyDec(amount, cur), moneyDec(fees, cur), moneyDec(amount-fees, cur), cur})
	cw.Flush()
	var zbuf bytes.Buffer
	zw := zip.NewWriter(&zbuf)
	mod := d.Add(10 * time.Hour)
	for _, f := range []struct {
		name string
		data []byte
	}{
		{fmt.Sprintf("%s_settlebatch_%s.csv", partner, d.Format(fileDay)), summary.Bytes()},
		{fmt.Sprintf("%s_settle_%s_%s.csv", partner, d.Format(fileDay), batch), csvRows(rows)},
	} {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.name, Method: zip.Deflate, Modified: mod})
		if err != nil {
			return nil, false, fmt.Errorf("settlement zip: %w", err)
		}
		if _, err := w.Write(f.data); err != nil {
			return nil, false, fmt.Errorf("settlement zip: %w", err)
		}
	}
	if err := zw.Close(); err != nil {
		return nil, false, fmt.Errorf("settlement zip: %w", err)
	}
	return zbuf.Bytes(), true, nil
}
