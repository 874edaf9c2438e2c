// Package antomsim is a stateful simulator of Antom's online payment API (AMS) for tests, the
// demo and `paymux sim`, following antom.md section 15: /ams/api and /ams/sandbox/api paths,
// request signatures checked leniently, signed answers with lower-case headers, idempotency
// with REPEAT_REQ_INCONSISTENT, a wallet page per paymentMethodType (pay, fail, abandon, leave
// pending), notifications on Antom's retry schedule with a time scale, partial and multiple
// refunds, cancel, and injectable faults.
package antomsim

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math/rand"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/paymux/paymux/core/signing"
)

// Config configures a Sim.
type Config struct {
	// Clock is the simulated time; nil means time.Now.
	Clock func() time.Time
	// TimeScale is simulated seconds per real second for the notification retry schedule and
	// payment expiry; 0 means 1.
	TimeScale float64
	// Seed seeds paymentId and refundId generation.
	Seed int64
	// Logf, when set, logs every call and delivery.
	Logf func(format string, a ...any)
	// AntomKey signs answers and notifications; nil means the committed test key.
	AntomKey *rsa.PrivateKey
	// Sandbox turns notification retries off, as Antom's sandbox does.
	Sandbox bool
	// SignQuery includes the notify URL's query in the signed path (whether Antom does is
	// unconfirmed; the default signs the path only).
	SignQuery bool
	// RequireStatusS makes a delivery succeed only on resultCode SUCCESS and resultStatus S
	// (default: resultCode SUCCESS).
	RequireStatusS bool
	// InvalidSignatureCode is the result code of a request whose signature fails (default
	// INVALID_SIGNATURE; the docs also say SIGNATURE_INVALID).
	InvalidSignatureCode string
	// RefundWindow bounds refunds after payment; 0 means 365 days.
	RefundWindow time.Duration
	// DefaultExpiry is an order's life when pay sets no paymentExpiryTime; 0 means 14 minutes.
	DefaultExpiry time.Duration
}

// Merchant is one client id the simulator accepts.
type Merchant struct {
	ClientID     string
	PublicKeyPEM []byte // the merchant's RSA public key: request signatures are checked with it
	Name         string
}

// Sim is the simulator. Create it with New, register merchants with AddMerchant, serve
// Handler, and Close it when done.
type Sim struct {
	cfg     Config
	key     *rsa.PrivateKey
	pubPEM  []byte
	http    *http.Client
	closed  chan struct{}
	closeMu sync.Once
	wg      sync.WaitGroup

	mu         sync.Mutex
	rnd        *rand.Rand
	merchants  map[string]*merchant
	payments   map[string]*payment // by paymentId
	byRequest  map[string]*payment // clientId + "\x00" + paymentRequestId
	refunds    map[string]*refund  // by refundId
	refundsReq map[string]*refund  // clientId + "\x00" + refundRequestId
	faults     []*faultEntry
	faultSeq   int
	deliveries []Delivery
	seq        int
}

type merchant struct {
	Merchant
	pub *rsa.PublicKey
}

// Payment statuses, as inquiryPayment reports them.
const (
	StatusProcessing = "PROCESSING"
	StatusPending    = "PENDING"
	StatusSuccess    = "SUCCESS"
	StatusFail       = "FAIL"
	StatusCancelled  = "CANCELLED"
)

type payment struct {
	clientID, requestID, id string
	method, terminal        string
	amount                  Amount
	redirectURL, notifyURL  string
	created, expires        time.Time
	status, resultCode      string
	paidAt                  time.Time
	refunded                int64
	payAnswer               []byte // the first pay answer, replayed to a repeat with the same key fields
	expiryTimer             *time.Timer
}

type refund struct {
	clientID, requestID, id, paymentID string
	amount                             Amount
	status                             string
	at                                 time.Time
	answer                             []byte
}

// New returns a simulator with no merchants.
func New(cfg Config) *Sim {
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.TimeScale <= 0 {
		cfg.TimeScale = 1
	}
	if cfg.InvalidSignatureCode == "" {
		cfg.InvalidSignatureCode = "INVALID_SIGNATURE"
	}
	if cfg.RefundWindow <= 0 {
		cfg.RefundWindow = 365 * 24 * time.Hour
	}
	if cfg.DefaultExpiry <= 0 {
		cfg.DefaultExpiry = 14 * time.Minute
	}
	key := cfg.AntomKey
	if key == nil {
		key = mustKey(TestAntomPrivateKeyPEM)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		panic(fmt.Sprintf("antomsim: public key: %v", err))
	}
	return &Sim{
		cfg: cfg, key: key, pubPEM: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}),
		http: &http.Client{Timeout: 10 * time.Second}, closed: make(chan struct{}),
		rnd: rand.New(rand.NewSource(cfg.Seed)), merchants: map[string]*merchant{}, payments: map[string]*payment{},
		byRequest: map[string]*payment{}, refunds: map[string]*refund{}, refundsReq: map[string]*refund{},
	}
}

// AntomPublicKeyPEM is the key merchants configure as Antom's public key.
func (s *Sim) AntomPublicKeyPEM() []byte { return s.pubPEM }

// AddMerchant registers a client id and the public key its requests are checked with.
func (s *Sim) AddMerchant(m Merchant) error {
	if m.ClientID == "" || strings.ContainsAny(m.ClientID, " .") {
		return errors.New("antomsim: merchant needs a client id without spaces or dots")
	}
	pub, err := signing.ParsePublicKey(m.PublicKeyPEM)
	if err != nil {
		return fmt.Errorf("antomsim: merchant %s: %w", m.ClientID, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.merchants[m.ClientID] = &merchant{Merchant: m, pub: pub}
	return nil
}

// Merchants lists the registered merchants.
func (s *Sim) Merchants() []Merchant {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Merchant
	for _, m := range s.merchants {
		out = append(out, m.Merchant)
	}
	return out
}

// Close stops deliveries and timers and waits for them.
func (s *Sim) Close() {
	s.closeMu.Do(func() {
		close(s.closed)
		s.mu.Lock()
		for _, p := range s.payments {
			if p.expiryTimer != nil {
				p.expiryTimer.Stop()
			}
		}
		s.mu.Unlock()
	})
	s.wg.Wait()
}

func (s *Sim) now() time.Time { return s.cfg.Clock() }

// real converts a simulated duration to the real time to wait.
func (s *Sim) real(d time.Duration) time.Duration { return time.Duration(float64(d) / s.cfg.TimeScale) }

func (s *Sim) logf(format string, a ...any) {
	if s.cfg.Logf != nil {
		s.cfg.Logf("antomsim: "+format, a...)
	}
}

// newID returns a fresh gateway id (caller holds mu).
func (s *Sim) newID(prefix string) string {
	s.seq++
	return fmt.Sprintf("%s%s%08d%06d", prefix, s.now().UTC().Format("20060102"), s.seq, s.rnd.Intn(1000000))
}

func reqKey(clientID, id string) string { return clientID + "\x00" + id }
