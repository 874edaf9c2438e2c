package mapi

import (
	"context"
	"strings"
	"time"

	"github.com/paymux/paymux/core"
)

// File services and their limits.
const (
	ServiceCompareFile     = "forex_compare_file"
	ServiceLiquidationFile = "forex_liquidation_file"
	ServiceRateFile        = "forex_rate_file"
	// MaxFileDays is the longest start_date..end_date range one file call may ask for.
	MaxFileDays = 10
)

// emptyFileMessages are the plain-text answers that mean "no rows", not an error.
var emptyFileMessages = []string{
	"No balance account data in the period",
	"No balance amount data in the period",
}

// ParseSettlementLine parses one line of forex_compare_file or forex_liquidation_file:
//
//	partner_transaction_id|amount|currency|transaction_time|settlement_time|type|fee|status|remarks
//
// with type P (payment) or R (refund) and times YYYYMMDDHHMMSS in Beijing time (settlement time
// may be empty). A line with more than 9 columns keeps the extra text in the remarks. Lines that
// are the gateway's "no data" messages give (nil, nil).
func ParseSettlementLine(line string) (*core.SettlementRecord, error) {
	line = strings.TrimSpace(strings.TrimPrefix(line, "\ufeff"))
	if line == "" {
		return nil, nil
	}
	for _, m := range emptyFileMessages {
		if strings.HasPrefix(line, m) {
			return nil, nil
		}
	}
	cols := strings.SplitN(line, "|", 9)
	if len(cols) < 8 {
		return nil, core.Errorf(core.EINVALID, "settlement line has %d columns, want 9: %q", len(cols), truncate(line, 60))
	}
	for i := range cols {
		cols[i] = strings.TrimSpace(cols[i])
	}
	r := &core.SettlementRecord{Reference: cols[0], Status: cols[7]}
	if r.Reference == "" {
		return nil, core.Errorf(core.EINVALID, "settlement line has no transaction id")
	}
	switch cols[5] {
	case "P":
		r.Kind = core.EventPayment
	case "R":
		r.Kind = core.EventRefund
	default:
		return nil, core.Errorf(core.EINVALID, "settlement line type %q is neither P nor R", truncate(cols[5], 10))
	}
	// Whether refund lines carry a minus sign is UNCONFIRMED (the column layout is known from one
	// SDK's parser): a refund may, and the record stays positive (Kind gives the direction), as
	// the AlipayHK file reader does. A payment line with a sign is malformed.
	if r.Kind == core.EventRefund {
		cols[1], cols[6] = strings.TrimPrefix(cols[1], "-"), strings.TrimPrefix(cols[6], "-")
	}
	var err error
	if r.Amount, err = ParseAmount(cols[1], cols[2]); err != nil {
		return nil, core.Errorf(core.EINVALID, "settlement line amount: %s", core.ErrorMessage(err))
	}
	fee := cols[6]
	if fee == "" {
		fee = "0"
	}
	if r.Fee, err = ParseAmount(fee, cols[2]); err != nil {
		return nil, core.Errorf(core.EINVALID, "settlement line fee: %s", core.ErrorMessage(err))
	}
	if r.OccurredAt, err = parseCompact(cols[3]); err != nil || r.OccurredAt.IsZero() {
		return nil, core.Errorf(core.EINVALID, "settlement line transaction time %q is not YYYYMMDDHHMMSS", truncate(cols[3], 20))
	}
	if r.SettledAt, err = parseCompact(cols[4]); err != nil {
		return nil, core.Errorf(core.EINVALID, "settlement line settlement time %q is not YYYYMMDDHHMMSS", truncate(cols[4], 20))
	}
	return r, nil
}

func parseCompact(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.ParseInLocation(LayoutCompact, s, Beijing)
}

// fileErrorMessage reports whether a line is one of the gateway's plain-text error answers
// (e.g. "File download failed:Over 10 days to Date period", "System exception").
func fileErrorMessage(line string) bool {
	return !strings.Contains(line, "|") && strings.TrimSpace(line) != ""
}

// Rate is one line of forex_rate_file: CNY per one unit of Currency, as the decimal text the
// file gives (never a float).
type Rate struct {
	At       time.Time // date and time of the rate, Beijing time
	Currency string
	Rate     string
}

// ParseRateLine parses `YYYYMMDD|HHMMSS|CUR|rate`. Empty lines give (nil, nil).
func ParseRateLine(line string) (*Rate, error) {
	line = strings.TrimSpace(strings.TrimPrefix(line, "\ufeff"))
	if line == "" {
		return nil, nil
	}
	cols := strings.Split(line, "|")
	if len(cols) != 4 {
		return nil, core.Errorf(core.EINVALID, "rate line has %d columns, want 4: %q", len(cols), truncate(line, 60))
	}
	at, err := time.ParseInLocation(LayoutCompact, strings.TrimSpace(cols[0])+strings.TrimSpace(cols[1]), Beijing)
	if err != nil {
		return nil, core.Errorf(core.EINVALID, "rate line date/time %q|%q is not YYYYMMDD|HHMMSS", truncate(cols[0], 10), truncate(cols[1], 10))
	}
	cur := strings.TrimSpace(cols[2])
	if !core.ValidCurrency(cur) {
		return nil, core.Errorf(core.EINVALID, "rate line currency %q is unknown", truncate(cur, 10))
	}
	rate := strings.TrimSpace(cols[3])
	whole, frac, _ := strings.Cut(rate, ".")
	if whole == "" || !digits(whole) || !digits(frac) || strings.Trim(whole+frac, "0") == "" {
		return nil, core.Errorf(core.EINVALID, "rate %q is not a positive decimal", truncate(rate, 20))
	}
	return &Rate{At: at, Currency: cur, Rate: rate}, nil
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// FetchSettlement streams the records of a file service (ServiceCompareFile or
// ServiceLiquidationFile) between two dates inclusive, split into windows of MaxFileDays. The
// gateway only serves days before today (Beijing time); to is clamped to yesterday.
func (c *Client) FetchSettlement(ctx context.Context, service string, from, to time.Time, yield func(*core.SettlementRecord) error) error {
	from = date(from)
	to = date(to)
	if y := date(time.Now().In(Beijing)).AddDate(0, 0, -1); to.After(y) {
		to = y
	}
	if to.Before(from) {
		return core.Errorf(core.EINVALID, "%s: no complete day between %s and %s (files cover days before today)", service, FormatDate(from), FormatDate(to))
	}
	for start := from; !start.After(to); start = start.AddDate(0, 0, MaxFileDays) {
		end := start.AddDate(0, 0, MaxFileDays-1)
		if end.After(to) {
			end = to
		}
		params := map[string]string{"service": service, "start_date": FormatDate(start), "end_date": FormatDate(end)}
		lineNo := 0
		err := c.Download(ctx, params, func(line string) error {
			lineNo++
			rec, err := ParseSettlementLine(line)
			if err != nil {
				if fileErrorMessage(line) {
					return core.Errorf(core.EUNAVAILABLE, "%s: gateway answered %q", service, truncate(line, 80))
				}
				return core.WrapError(core.EINVALID, err, "%s %s..%s line %d: %s", service, params["start_date"], params["end_date"], lineNo, core.ErrorMessage(err))
			}
			if rec == nil {
				return nil
			}
			return yield(rec)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// FetchRates returns today's rates (forex_rate_file). The gateway allows about 100 calls a day.
func (c *Client) FetchRates(ctx context.Context) ([]Rate, error) {
	var out []Rate
	err := c.Download(ctx, map[string]string{"service": ServiceRateFile}, func(line string) error {
		r, err := ParseRateLine(line)
		if err != nil {
			if fileErrorMessage(line) {
				return core.Errorf(core.EUNAVAILABLE, "%s: gateway answered %q", ServiceRateFile, truncate(line, 80))
			}
			return err
		}
		if r != nil {
			if len(out) >= MaxRateLines {
				return core.Errorf(core.EUNAVAILABLE, "%s: more than %d rates", ServiceRateFile, MaxRateLines)
			}
			out = append(out, *r)
		}
		return nil
	})
	return out, err
}

// date keeps t's calendar date (as the caller wrote it) at midnight Beijing time.
func date(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, Beijing)
}
