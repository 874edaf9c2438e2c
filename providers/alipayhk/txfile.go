package alipayhk

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/paymux/paymux/core"
)

// HongKong is the time zone of the reconciliation files' timestamps (GMT+8, no daylight saving).
// A fixed zone avoids depending on the host's tzdata.
var HongKong = time.FixedZone("HKT", 8*3600)

// fileTimeLayout is the timestamp layout of the transaction and settlement files.
const fileTimeLayout = "2006-01-02 15:04:05"

// Limits that keep a hostile or broken file from exhausting memory: encoding/csv has no line
// length limit of its own.
const (
	MaxLineBytes  = 64 << 10 // one CSV line
	maxFieldRunes = 4 << 10  // one field, after decoding
)

// Column names of the transaction file (alipayhk.md 14.2), compared case-insensitively after
// trimming. The settlement detail files have the same columns.
const (
	colPartnerTxID = "partner_transaction_id"
	colTxID        = "transaction_id"
	colAmount      = "amount"
	colFee         = "fee"
	colSettlement  = "settlement"
	colCurrency    = "currency"
	colPaymentTime = "payment_time"
	colSettleTime  = "settlement_time"
	colIssue       = "issue"
	colProduct     = "product"
	colType        = "type"
	colStatus      = "status"
	colRemarks     = "remarks"
	colOrigPartner = "original_partner_transaction_id"
)

// txPositional is the documented column order, used when a file has no header row. The fifth
// column is unnamed in the documentation's sample; its position is kept (UNCONFIRMED).
var txPositional = []string{
	colPartnerTxID, colTxID, colAmount, colFee, "", colSettlement, colCurrency, colPaymentTime,
	colSettleTime, colIssue, colProduct, colType, colStatus, colRemarks, colOrigPartner,
}

// txRequired are the columns without which a row cannot become a settlement record.
var txRequired = []string{colPartnerTxID, colAmount, colCurrency, colType}

// ReadTransactionFile streams a `PID_fptrade_YYYYMMDD.csv` transaction file (or a settlement
// detail file, which has the same columns) and calls yield once per row, in file order. The
// file may be UTF-8 (with or without BOM) or GBK; columns are found by header name, or by the
// documented position when the file has no header row. Values are trimmed. An error names the
// line; an error from yield stops reading and is returned as is.
func ReadTransactionFile(r io.Reader, yield func(*core.SettlementRecord) error) error {
	tr, err := newTableReader(r)
	if err != nil {
		return err
	}
	first, err := tr.next()
	if err == io.EOF {
		return nil
	}
	if err != nil {
		return err
	}
	idx, isHeader := headerIndex(first, txPositional)
	for _, c := range txRequired {
		if idx[c] < 0 {
			return tr.errorf("header has no %s column", c)
		}
	}
	cols := txColumns(idx)
	row := first
	if isHeader {
		row, err = tr.next()
	}
	for ; err == nil; row, err = tr.next() {
		rec, err := txRecord(row, &cols)
		if err != nil {
			return tr.wrap(err)
		}
		if rec == nil {
			continue
		}
		if err := yield(rec); err != nil {
			return err
		}
	}
	if err == io.EOF {
		return nil
	}
	return err
}

// txCols are the positions of the columns a record needs (-1: absent), looked up once per file.
type txCols struct {
	ref, txID, amount, fee, currency, payTime, settleTime, issue, typ, status, orig int
}

func txColumns(idx map[string]int) txCols {
	return txCols{
		ref: idx[colPartnerTxID], txID: idx[colTxID], amount: idx[colAmount], fee: idx[colFee],
		currency: idx[colCurrency], payTime: idx[colPaymentTime], settleTime: idx[colSettleTime],
		issue: idx[colIssue], typ: idx[colType], status: idx[colStatus], orig: idx[colOrigPartner],
	}
}

// txRecord maps one row; a row with every field empty gives nil.
func txRecord(row []string, c *txCols) (*core.SettlementRecord, error) {
	get := func(i int) string {
		if i >= 0 && i < len(row) {
			return row[i]
		}
		return ""
	}
	if allEmpty(row) {
		return nil, nil
	}
	rec := &core.SettlementRecord{
		Reference:   get(c.ref),
		ProviderRef: get(c.txID),
		OrigRef:     get(c.orig),
		Status:      get(c.status),
		Wallet:      strings.ToUpper(get(c.issue)),
	}
	if rec.Reference == "" {
		return nil, fmt.Errorf("empty %s", colPartnerTxID)
	}
	switch t := strings.ToUpper(get(c.typ)); t {
	case "P":
		rec.Kind = core.EventPayment
	case "R":
		rec.Kind = core.EventRefund
	default:
		return nil, fmt.Errorf("%s %q is neither P nor R", colType, printable(t))
	}
	cur := strings.ToUpper(get(c.currency))
	var err error
	if rec.Amount, err = fileMoney(get(c.amount), cur, true); err != nil {
		return nil, fmt.Errorf("%s: %w", colAmount, err)
	}
	if rec.Fee, err = fileMoney(get(c.fee), cur, false); err != nil {
		return nil, fmt.Errorf("%s: %w", colFee, err)
	}
	if rec.OccurredAt, err = fileTime(get(c.payTime)); err != nil {
		return nil, fmt.Errorf("%s: %w", colPaymentTime, err)
	}
	if rec.SettledAt, err = fileTime(get(c.settleTime)); err != nil {
		return nil, fmt.Errorf("%s: %w", colSettleTime, err)
	}
	return rec, nil
}

// fileMoney parses an amount column. Refund rows may carry a sign and amounts may carry
// thousands separators; the record's Kind says the direction, so the value is kept positive.
// An empty optional amount is zero in the currency.
func fileMoney(s, currency string, required bool) (core.Money, error) {
	s = strings.ReplaceAll(s, ",", "")
	s = strings.TrimPrefix(strings.TrimPrefix(s, "-"), "+")
	if s == "" && !required {
		if !core.ValidCurrency(currency) {
			return core.Money{}, fmt.Errorf("unknown currency %q", printable(currency))
		}
		return core.Money{Currency: currency}, nil
	}
	m, err := core.ParseMoney(s, currency)
	if err != nil {
		return core.Money{}, errors.New(core.ErrorMessage(err))
	}
	return m, nil
}

func fileTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.ParseInLocation(fileTimeLayout, s, HongKong)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not %s", printable(s), "YYYY-MM-DD HH:MM:SS")
	}
	return t, nil
}

// headerIndex maps column names to positions. When row is a header (it names the first
// documented column) the names come from it; otherwise positional gives them. Missing columns
// map to -1.
func headerIndex(row []string, positional []string) (map[string]int, bool) {
	idx := map[string]int{}
	for _, c := range positional {
		if c != "" {
			idx[c] = -1
		}
	}
	isHeader := false
	for _, h := range row {
		if strings.EqualFold(h, positional[0]) {
			isHeader = true
		}
	}
	if isHeader {
		for i, h := range row {
			k := strings.ToLower(h)
			if k == "" {
				continue
			}
			if j, ok := idx[k]; ok && j < 0 {
				idx[k] = i
			} else if !ok {
				idx[k] = i // an extra column, kept harmlessly
			}
		}
		return idx, true
	}
	for i, c := range positional {
		if c != "" {
			idx[c] = i
		}
	}
	return idx, false
}

func allEmpty(row []string) bool {
	for _, f := range row {
		if f != "" {
			return false
		}
	}
	return true
}

// tableReader reads CSV rows of a file that is UTF-8 or GBK. encoding/csv works on the raw
// bytes: GBK trail bytes never take the values of '"', ',', '\r' or '\n', so splitting is safe
// before decoding. The encoding is decided by the first field that is not plain ASCII (valid
// UTF-8 means UTF-8, anything else GBK) and then holds for the whole file, so that a GBK field
// that happens to be valid UTF-8 later in the file is still read as GBK.
type tableReader struct {
	lr  *lineLimitReader
	csv *csv.Reader
	enc fileEncoding
	dec *encoding.Decoder
	out []string
	// lineNo is the line of the last row read, for error messages.
	lineNo int
}

type fileEncoding int

const (
	encUnknown fileEncoding = iota
	encUTF8
	encGBK
)

func newTableReader(r io.Reader) (*tableReader, error) {
	br := bufio.NewReaderSize(r, 32<<10)
	enc := encUnknown
	if p, _ := br.Peek(3); bytes.Equal(p, []byte{0xEF, 0xBB, 0xBF}) {
		_, _ = br.Discard(3)
		enc = encUTF8
	}
	lr := &lineLimitReader{r: br, max: MaxLineBytes}
	c := csv.NewReader(lr)
	c.FieldsPerRecord = -1 // summary or short rows are judged by the caller, by column name
	c.LazyQuotes = true    // a stray quote in Remarks must not fail the whole file
	c.ReuseRecord = true
	return &tableReader{lr: lr, csv: c, enc: enc}, nil
}

// next returns the next row, decoded to UTF-8 and trimmed; the slice is reused.
func (t *tableReader) next() ([]string, error) {
	raw, err := t.csv.Read()
	if err != nil {
		if err == io.EOF {
			return nil, io.EOF
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("alipayhk: reconciliation file: %w", err)
		}
		return nil, fmt.Errorf("alipayhk: reconciliation file after line %d: %w", t.lineNo, err)
	}
	t.lineNo, _ = t.csv.FieldPos(0)
	t.out = t.out[:0]
	for _, f := range raw {
		s, err := t.decode(f)
		if err != nil {
			return nil, t.wrap(err)
		}
		s = strings.TrimSpace(s)
		if utf8.RuneCountInString(s) > maxFieldRunes {
			return nil, t.errorf("field longer than %d characters", maxFieldRunes)
		}
		t.out = append(t.out, s)
	}
	return t.out, nil
}

var gbk = simplifiedchinese.GB18030 // a superset of GBK, decoding GBK files unchanged

func (t *tableReader) decode(f string) (string, error) {
	if isASCII(f) {
		return f, nil
	}
	if t.enc == encUnknown {
		t.enc = encGBK
		if utf8.ValidString(f) {
			t.enc = encUTF8
		}
	}
	if t.enc == encUTF8 {
		if !utf8.ValidString(f) {
			return "", errors.New("invalid UTF-8 in a file that started as UTF-8")
		}
		return f, nil
	}
	if t.dec == nil {
		t.dec = gbk.NewDecoder()
	}
	s, err := t.dec.String(f)
	if err != nil {
		return "", fmt.Errorf("invalid GBK: %w", err)
	}
	return s, nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func (t *tableReader) errorf(format string, args ...any) error {
	return fmt.Errorf("alipayhk: reconciliation file line %d: %s", t.lineNo, fmt.Sprintf(format, args...))
}

// wrap names the line of the row just read.
func (t *tableReader) wrap(err error) error {
	return fmt.Errorf("alipayhk: reconciliation file line %d: %w", t.lineNo, err)
}

// lineLimitReader fails a read once a line grows past max bytes, bounding what encoding/csv
// buffers for one record.
type lineLimitReader struct {
	r   io.Reader
	max int
	cur int
}

type lineTooLong struct{ max int }

func (e *lineTooLong) Error() string { return fmt.Sprintf("a line is longer than %d bytes", e.max) }

func (l *lineLimitReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	for i := 0; i < n; i++ {
		if p[i] == '\n' {
			l.cur = 0
			continue
		}
		l.cur++
		if l.cur > l.max {
			return 0, &lineTooLong{max: l.max}
		}
	}
	return n, err
}

// printable shortens and cleans file content quoted in an error message.
func printable(s string) string {
	s = strings.ToValidUTF8(s, "?")
	if utf8.RuneCountInString(s) > 40 {
		s = string([]rune(s)[:40]) + "..."
	}
	return s
}
