// Package mapisim is a stateful simulator of the Alipay "mapi" gateway, its wallet cashier and
// its notifier, for tests, the demo and benchmarks (think stripe-mock, but with state).
//
// It follows the protocol documents in shared/protocol (alipay-crossborder.md, alipay-h5.md,
// alipayhk.md): requests are verified with each partner's key (RSA, RSA2 or MD5), responses,
// synchronous results, returns and notifications are signed with the simulator's own Alipay key
// (or the partner's MD5 key), and every canonical string, signature and form decode goes
// through core/signing and core/notify so that the simulator and the providers cannot drift
// apart silently.
//
// A Sim is safe for concurrent use. Serve Handler() with httptest or a loopback listener; drive
// the wallet side with the Go methods (PayOrderString, PayH5, ...) or the /sim/ control API.
package mapisim

import (
	"context"
	"crypto/rsa"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/core/signing"
)

// Flavours of partner.
const (
	FlavourGlobal = "global" // Alipay cross-border (mobile.securitypay.pay, create_forex_trade_wap, rate/compare files)
	FlavourHK     = "hk"     // AlipayHK: HKD only, payment_inst, HK refund rules, SFTP reconciliation files
)

// Trade statuses the simulator produces.
const (
	StatusWaitBuyerPay  = "WAIT_BUYER_PAY"
	StatusTradeFinished = "TRADE_FINISHED"
	StatusTradeClosed   = "TRADE_CLOSED"
)

// Refund states (refund_result_code of alipay.acquire.refund.query).
const (
	RefundProcessing = "PROCESSING"
	RefundSuccess    = "SUCCESS"
	RefundFailed     = "FAILED"
)

// beijing is the zone of every Alipay timestamp (GMT+8, no DST).
var beijing = time.FixedZone("GMT+8", 8*3600)

// Config configures a Sim. The zero value works: a random-free seed 0, real time, the committed
// test Alipay key.
type Config struct {
	// Seed makes trade_no and notify_id sequences reproducible.
	Seed int64
	// TimeScale is how many simulated seconds pass per real second for the notifier's retry
	// schedule, it_b_pay expiry and asynchronous refunds. 1000 runs the 24h22m retry schedule in
	// under 90 s; 100000 in under a second. <= 0 means 1.
	TimeScale float64
	// Clock gives the simulated wall time used in timestamps (notify_time, gmt_payment, file
	// dates). nil means time.Now.
	Clock func() time.Time
	// AlipayKey signs responses, results, returns and notifications. nil means the committed
	// throw-away TestAlipayPrivateKeyPEM.
	AlipayKey *rsa.PrivateKey
	// HTTPClient posts notifications. nil means a client with a 10 s timeout.
	HTTPClient *http.Client
	// MaxOrders and MaxDeliveries bound memory: beyond them the oldest finished orders (and
	// their refunds) and the oldest finished deliveries are evicted. 0 means 100000 and 10000.
	MaxOrders     int
	MaxDeliveries int
	// RefundMinInterval enforces the documented minimum gap between two forex_refund calls of
	// one partner (3 s in the docs); 0 turns the rule off. RefundIntervalError is the error code
	// returned when the rule is broken; the real code is not documented (default SYSTEM_EXCEPTION,
	// which merchants retry).
	RefundMinInterval   time.Duration
	RefundIntervalError string
	// AsyncRefundDelay is the simulated time an is_sync=N refund stays PROCESSING before it
	// succeeds and its refund_status_sync notification is sent. 0 means 1 s.
	AsyncRefundDelay time.Duration
	// StrictRepeatedRefund answers REPEATED_REFUNDMENT_REQUEST even for an identical repeat of a
	// refund; by default an identical repeat is idempotent (T) and only a different request
	// under a used out_return_no is refused (the documents disagree).
	StrictRepeatedRefund bool
	// StrictAck accepts only the exact body "success" as an acknowledgement. By default the body
	// is trimmed and compared case-insensitively (docs say SUCCESS, code says success).
	StrictAck bool
	// RequiredOrderFields are the parameters an order string must carry besides service,
	// partner, sign and sign_type and one of total_fee/rmb_fee. nil means DefaultRequiredOrderFields.
	RequiredOrderFields []string
	// OrderStringMode says which text the order-string signature must cover: "sorted" (default:
	// the Format A canonical string, as the documents prescribe), "literal" (the text before
	// &sign= as sent; the server probably checks that, UNCONFIRMED) or "either".
	OrderStringMode string
	// AcceptUnencodedSign accepts an order string whose sign was not URL-encoded (raw base64 with
	// '+', '/', '='); by default it is refused with ILLEGAL_SIGN, the common integration bug.
	AcceptUnencodedSign bool
	// GmtReturnLayouts are the accepted gmt_return layouts per flavour; nil means both
	// "20060102150405" and "2006-01-02 15:04:05" for every flavour (the documents conflict).
	GmtReturnLayouts map[string][]string
	// Logf receives one line per notable event; nil discards. Keys never reach it.
	Logf func(format string, args ...any)
}

// DefaultRequiredOrderFields are checked in mobile.securitypay.pay order strings (alipay-crossborder.md §4.2, Y and Y*).
// notify_url is not among them: the HK page lists it as optional and the documents' own
// example (alipay-crossborder.md §4.6) has none; an order without it is paid but not notified.
var DefaultRequiredOrderFields = []string{
	"_input_charset", "out_trade_no", "subject", "payment_type",
	"seller_id", "currency", "forex_biz", "product_code",
}

// Partner is one merchant account known to the simulator.
type Partner struct {
	ID      string `json:"id" yaml:"id"`
	Flavour string `json:"flavour" yaml:"flavour"` // FlavourGlobal or FlavourHK; "" means global
	// SignType is the account's sign type: notifications are signed with it (RSA/RSA2 with the
	// Alipay key, MD5 with MD5Key). Requests are verified with whatever sign_type they carry.
	SignType             string `json:"sign_type" yaml:"sign_type"`
	MerchantPublicKeyPEM []byte `json:"-" yaml:"-"`
	MD5Key               string `json:"-" yaml:"-"`
	// Currencies are the contract's settlement currencies; empty means any (global) or HKD (hk).
	Currencies []string `json:"currencies,omitempty" yaml:"currencies"`
	// Name is shown on the cashier page; empty means "Merchant <ID>".
	Name string `json:"name,omitempty" yaml:"name"`
	// FeeBasisPoints is the fee in reconciliation files (e.g. 180 = 1.8 %).
	FeeBasisPoints int64 `json:"fee_basis_points,omitempty" yaml:"fee_basis_points"`
	// Unnamed leaves seller_id out of the partner's trade notifications, as real cross-border
	// notifications may (alipay-crossborder.md marks it unconfirmed): they then name no
	// merchant at all, and only notify_verify or a query can tell whose trade it is.
	Unnamed bool `json:"unnamed,omitempty" yaml:"unnamed"`
}

type partnerState struct {
	Partner
	pub        *rsa.PublicKey
	md5        atomic.Pointer[signing.MD5Key] // replaced by SetMD5Key (the portal's key switch)
	lastRefund time.Time                      // simulated time of the last accepted forex_refund
}

// Order is the simulator's record of one trade.
type Order struct {
	Partner     string            `json:"partner"`
	OutTradeNo  string            `json:"out_trade_no"`
	TradeNo     string            `json:"trade_no,omitempty"`
	Channel     string            `json:"channel"` // "app", "h5" or "web" (desktop)
	Status      string            `json:"trade_status"`
	Subject     string            `json:"subject"`
	Body        string            `json:"body,omitempty"`
	Currency    string            `json:"currency"`
	Amount      int64             `json:"amount"` // settlement currency minor units
	RMBFee      string            `json:"rmb_fee,omitempty"`
	PaymentInst string            `json:"payment_inst,omitempty"`
	NotifyURL   string            `json:"notify_url,omitempty"`
	ReturnURL   string            `json:"return_url,omitempty"`
	SignType    string            `json:"sign_type"` // of the creating request
	Params      map[string]string `json:"params"`    // the creating request, without sign/sign_type
	Created     time.Time         `json:"created"`
	Paid        time.Time         `json:"paid,omitzero"`
	Closed      time.Time         `json:"closed,omitzero"`
	ExpiresAt   time.Time         `json:"expires_at,omitzero"`
	Refunded    int64             `json:"refunded"`
	Refunds     []string          `json:"refunds,omitempty"`
	Seq         int64             `json:"seq"`
	Token       string            `json:"token,omitempty"` // H5 cashier session
}

// Money returns the order amount.
func (o *Order) Money() core.Money { return core.Money{Value: o.Amount, Currency: o.Currency} }

// Refund is the simulator's record of one forex_refund.
type Refund struct {
	Partner     string    `json:"partner"`
	OutTradeNo  string    `json:"out_trade_no"`
	OutReturnNo string    `json:"out_return_no"`
	TradeNo     string    `json:"trade_no"`
	Amount      int64     `json:"amount"`
	Currency    string    `json:"currency"`
	Status      string    `json:"status"`
	ErrorCode   string    `json:"error_code,omitempty"`
	Sync        bool      `json:"sync"`
	NotifyURL   string    `json:"notify_url,omitempty"`
	Reason      string    `json:"reason,omitempty"`
	Fingerprint string    `json:"fingerprint"`
	PlannedFail string    `json:"planned_fail,omitempty"` // refund_fail fault: the async outcome
	Created     time.Time `json:"created"`
	Done        time.Time `json:"done,omitzero"`
}

// Sim is the simulator. Create it with New, stop it with Close.
type Sim struct {
	cfg    Config
	scale  float64
	clock  func() time.Time
	alipay *rsa.PrivateKey
	rsaS   signing.Signer // SHA1withRSA with the Alipay key
	rsa2S  signing.Signer // SHA256withRSA with the Alipay key
	client *http.Client
	ctx    context.Context
	cancel context.CancelFunc

	mu        sync.Mutex
	rng       *rand.Rand
	pcg       *rand.PCG
	seq       int64
	partners  map[string]*partnerState
	orders    map[orderKey]*Order
	orderFIFO []orderKey
	tradeNos  map[string]orderKey
	refunds   map[orderKey]*Refund // key: partner + out_return_no
	notifyIDs map[string]*notifyIDState
	tokens    map[string]orderKey // cashier tokens
	faults    []*faultState
	faultLog  map[int64]*faultState // every fault ever set, for FaultByID
	faultSeq  int64
	timers    map[*time.Timer]struct{}

	deliveries *deliveryLog
	wg         sync.WaitGroup
	closed     bool
}

type orderKey struct{ Partner, No string }

type notifyIDState struct {
	Partner string `json:"partner"`
	Armed   bool   `json:"armed"` // verifies true once; re-armed on each redelivery
}

// New returns a running simulator.
func New(cfg Config) *Sim {
	if cfg.TimeScale <= 0 {
		cfg.TimeScale = 1
	}
	if cfg.MaxOrders <= 0 {
		cfg.MaxOrders = 100000
	}
	if cfg.MaxDeliveries <= 0 {
		cfg.MaxDeliveries = 10000
	}
	if cfg.AsyncRefundDelay <= 0 {
		cfg.AsyncRefundDelay = time.Second
	}
	if cfg.RefundIntervalError == "" {
		cfg.RefundIntervalError = "SYSTEM_EXCEPTION"
	}
	if cfg.RequiredOrderFields == nil {
		cfg.RequiredOrderFields = DefaultRequiredOrderFields
	}
	s := &Sim{cfg: cfg, scale: cfg.TimeScale, clock: cfg.Clock, alipay: cfg.AlipayKey, client: cfg.HTTPClient}
	if s.clock == nil {
		s.clock = time.Now
	}
	if s.alipay == nil {
		s.alipay = mustKey(TestAlipayPrivateKeyPEM)
	}
	if s.client == nil {
		s.client = &http.Client{Timeout: 10 * time.Second}
	}
	var err error
	if s.rsaS, err = signing.NewRSASigner(signing.RSA, s.alipay); err != nil {
		panic(fmt.Sprintf("mapisim: %v", err))
	}
	if s.rsa2S, err = signing.NewRSASigner(signing.RSA2, s.alipay); err != nil {
		panic(fmt.Sprintf("mapisim: %v", err))
	}
	s.pcg = rand.NewPCG(uint64(cfg.Seed), uint64(cfg.Seed)^0x9e3779b97f4a7c15)
	s.rng = rand.New(s.pcg)
	s.partners = map[string]*partnerState{}
	s.orders = map[orderKey]*Order{}
	s.tradeNos = map[string]orderKey{}
	s.refunds = map[orderKey]*Refund{}
	s.notifyIDs = map[string]*notifyIDState{}
	s.tokens = map[string]orderKey{}
	s.timers = map[*time.Timer]struct{}{}
	s.deliveries = newDeliveryLog(cfg.MaxDeliveries)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s
}

// Close stops timers and the notifier and waits for in-flight deliveries. Idempotent.
func (s *Sim) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	for t := range s.timers {
		if t.Stop() {
			s.wg.Done()
		}
	}
	s.timers = nil
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	s.deliveries.wake()
}

// AddPartner registers (or replaces) a merchant account. RSA/RSA2 partners need a merchant
// public key (requests may still use MD5 when MD5Key is set), MD5 partners an MD5 key.
func (s *Sim) AddPartner(p Partner) error {
	if len(p.ID) != 16 || !strings.HasPrefix(p.ID, "2088") || !isDigits(p.ID) {
		return core.Errorf(core.ECONFIG, "partner id %q is not 16 digits starting with 2088", p.ID)
	}
	switch p.Flavour {
	case "":
		p.Flavour = FlavourGlobal
	case FlavourGlobal, FlavourHK:
	default:
		return core.Errorf(core.ECONFIG, "partner %s: flavour %q is neither global nor hk", p.ID, p.Flavour)
	}
	if p.SignType == "" {
		p.SignType = string(signing.RSA2)
	}
	st, err := signing.ParseSignType(p.SignType)
	if err != nil {
		return fmt.Errorf("partner %s: %w", p.ID, err)
	}
	ps := &partnerState{Partner: p}
	if len(p.MerchantPublicKeyPEM) > 0 {
		if ps.pub, err = signing.ParsePublicKey(p.MerchantPublicKeyPEM); err != nil {
			return fmt.Errorf("partner %s: merchant public key: %w", p.ID, err)
		}
	}
	if p.MD5Key != "" {
		m, err := signing.NewMD5(p.MD5Key)
		if err != nil {
			return fmt.Errorf("partner %s: %w", p.ID, err)
		}
		ps.md5.Store(m)
	}
	if st == signing.MD5 && ps.md5.Load() == nil {
		return core.Errorf(core.ECONFIG, "partner %s: sign type MD5 needs an MD5 key", p.ID)
	}
	if st != signing.MD5 && ps.pub == nil {
		return core.Errorf(core.ECONFIG, "partner %s: sign type %s needs the merchant public key", p.ID, st)
	}
	if p.Flavour == FlavourHK && len(p.Currencies) == 0 {
		ps.Currencies = []string{"HKD"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.partners[p.ID] = ps
	return nil
}

// SetMD5Key replaces a partner's MD5 key, as the merchant portal's key switch does: the gateway
// holds one MD5 key, so from now on requests signed with the old key are refused (ILLEGAL_SIGN)
// and notifications and answers are signed with the new one. Requests already past their
// signature check are unaffected.
func (s *Sim) SetMD5Key(partner, key string) error {
	m, err := signing.NewMD5(key)
	if err != nil {
		return fmt.Errorf("partner %s: %w", partner, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ps := s.partners[partner]
	if ps == nil {
		return core.Errorf(core.ENOTFOUND, "partner %s is not registered", partner)
	}
	ps.md5.Store(m)
	return nil
}

// Partners returns the registered partners (without key material), sorted by id.
func (s *Sim) Partners() []Partner {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Partner, 0, len(s.partners))
	for _, p := range s.partners {
		q := p.Partner
		q.MerchantPublicKeyPEM, q.MD5Key = nil, ""
		out = append(out, q)
	}
	slices.SortFunc(out, func(a, b Partner) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// AlipayPublicKeyPEM returns the PEM (SPKI) of the key the simulator signs with; merchants
// configure it as "the Alipay public key".
func (s *Sim) AlipayPublicKeyPEM() []byte { return publicPEM(&s.alipay.PublicKey) }

// Order returns a copy of the order of partner with out_trade_no.
func (s *Sim) Order(partner, outTradeNo string) (Order, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[orderKey{partner, outTradeNo}]
	if !ok {
		return Order{}, false
	}
	return copyOrder(o), true
}

// Refund returns a copy of the refund of partner with out_return_no.
func (s *Sim) Refund(partner, outReturnNo string) (Refund, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.refunds[orderKey{partner, outReturnNo}]
	if !ok {
		return Refund{}, false
	}
	return *r, true
}

// RefundsOf returns copies of the refunds of partner's order out_trade_no, oldest first.
func (s *Sim) RefundsOf(partner, outTradeNo string) []Refund {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[orderKey{partner, outTradeNo}]
	if !ok {
		return nil
	}
	out := make([]Refund, 0, len(o.Refunds))
	for _, rn := range o.Refunds {
		if r, ok := s.refunds[orderKey{partner, rn}]; ok {
			out = append(out, *r)
		}
	}
	return out
}

func copyOrder(o *Order) Order {
	c := *o
	c.Params = make(map[string]string, len(o.Params))
	for k, v := range o.Params {
		c.Params[k] = v
	}
	c.Refunds = slices.Clone(o.Refunds)
	return c
}

// now is the simulated wall clock in Beijing time.
func (s *Sim) now() time.Time { return s.clock().In(beijing) }

// real converts a simulated duration into the real time to wait.
func (s *Sim) real(d time.Duration) time.Duration { return time.Duration(float64(d) / s.scale) }

// after runs f after the simulated duration d unless the simulator is closed first. Counted
// in wg so that Close waits for it.
func (s *Sim) after(d time.Duration, f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.afterLocked(d, f)
}

func (s *Sim) afterLocked(d time.Duration, f func()) {
	if s.closed {
		return
	}
	s.wg.Add(1)
	var t *time.Timer
	t = time.AfterFunc(s.real(d), func() {
		defer s.wg.Done()
		s.mu.Lock()
		if s.timers != nil {
			delete(s.timers, t)
		}
		closed := s.closed
		s.mu.Unlock()
		if !closed {
			f()
		}
	})
	s.timers[t] = struct{}{}
}

func (s *Sim) logf(format string, args ...any) {
	if s.cfg.Logf != nil {
		s.cfg.Logf(format, args...)
	}
}

// tradeNoLocked returns a new Alipay trade number: date, "22001", 15 digits (28 characters,
// the shape of real ones).
func (s *Sim) tradeNoLocked() string {
	for {
		n := s.now().Format("20060102") + "22001" + fmt.Sprintf("%015d", s.rng.Uint64N(1e15))
		if _, dup := s.tradeNos[n]; !dup {
			return n
		}
	}
}

// notifyIDLocked returns a new notify_id: 31 hex digits and "nc1" (34 characters, as in samples).
func (s *Sim) notifyIDLocked() string {
	const hexd = "0123456789abcdef"
	b := make([]byte, 0, 34)
	for range 31 {
		b = append(b, hexd[s.rng.IntN(16)])
	}
	return string(append(b, "nc1"...))
}

func (s *Sim) tokenLocked() string {
	const alnum = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 24)
	for i := range b {
		b[i] = alnum[s.rng.IntN(len(alnum))]
	}
	return string(b)
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// putOrderLocked stores a new order and evicts the oldest finished ones beyond MaxOrders.
func (s *Sim) putOrderLocked(o *Order) {
	s.seq++
	o.Seq = s.seq
	k := orderKey{o.Partner, o.OutTradeNo}
	s.orders[k] = o
	s.orderFIFO = append(s.orderFIFO, k)
	if o.TradeNo != "" {
		s.tradeNos[o.TradeNo] = k
	}
	s.evictLocked()
}

// evictLocked drops the oldest finished orders (closed, or paid without a refund in progress)
// while there are more than MaxOrders.
func (s *Sim) evictLocked() {
	excess := len(s.orders) - s.cfg.MaxOrders
	if excess <= 0 {
		return
	}
	s.orderFIFO = evictOldest(s.orderFIFO, excess, func(k orderKey, evict bool) (present, dropped bool) {
		o, ok := s.orders[k]
		if !ok || !evict || !s.finishedLocked(o) {
			return ok, false
		}
		s.dropOrderLocked(o)
		return true, true
	})
}

// evictOldest walks fifo oldest first and lets drop remove up to excess entries; it returns
// fifo, reusing its array, without the dropped entries and without those already gone. drop
// reports whether k is still present and whether it dropped it; it may drop only when evict is
// true. The walk stops at the first kept entry once excess entries are gone.
func evictOldest[K any](fifo []K, excess int, drop func(k K, evict bool) (present, dropped bool)) []K {
	kept := fifo[:0]
	for i, k := range fifo {
		present, dropped := drop(k, excess > 0)
		if !present {
			continue
		}
		if dropped {
			excess--
			continue
		}
		kept = append(kept, k)
		if excess == 0 {
			kept = append(kept, fifo[i+1:]...)
			break
		}
	}
	return kept
}

func (s *Sim) finishedLocked(o *Order) bool {
	if o.Status == StatusWaitBuyerPay {
		return false
	}
	for _, rn := range o.Refunds {
		if r := s.refunds[orderKey{o.Partner, rn}]; r != nil && r.Status == RefundProcessing {
			return false
		}
	}
	return true
}

func (s *Sim) dropOrderLocked(o *Order) {
	delete(s.orders, orderKey{o.Partner, o.OutTradeNo})
	if o.TradeNo != "" {
		delete(s.tradeNos, o.TradeNo)
	}
	for _, rn := range o.Refunds {
		delete(s.refunds, orderKey{o.Partner, rn})
	}
	if o.Token != "" {
		delete(s.tokens, o.Token)
	}
}
