package mapisim

import (
	"context"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paymux/paymux/core/notify"
	"github.com/paymux/paymux/core/signing"
)

const (
	globalPID = "2088000000000001"
	hkPID     = "2088000000000002"
	md5PID    = "2088000000000003"
)

// fixedClock is a settable simulated clock.
type fixedClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fixedClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fixedClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type env struct {
	t                     *testing.T
	sim                   *Sim
	gw                    *httptest.Server
	clock                 *fixedClock
	merch                 signing.Signer // RSA2 with the test merchant key
	md5                   *signing.MD5Key
	alipayRSA, alipayRSA2 signing.Verifier

	mu       sync.Mutex
	received []map[string]string
	answer   func(fields map[string]string) string
	merchant *httptest.Server
}

func newEnv(t *testing.T, cfg Config) *env {
	t.Helper()
	e := &env{t: t, clock: &fixedClock{t: time.Date(2026, 11, 20, 10, 0, 0, 0, beijing)}}
	if cfg.Clock == nil {
		cfg.Clock = e.clock.Now
	}
	if cfg.TimeScale == 0 {
		cfg.TimeScale = 100000
	}
	e.sim = New(cfg)
	for _, p := range []Partner{
		{ID: globalPID, Flavour: FlavourGlobal, SignType: "RSA2", MerchantPublicKeyPEM: TestMerchantPublicKeyPEM, MD5Key: TestMD5Key, Name: "Demo Shop"},
		{ID: hkPID, Flavour: FlavourHK, SignType: "RSA2", MerchantPublicKeyPEM: TestMerchantPublicKeyPEM, FeeBasisPoints: 100},
		{ID: md5PID, Flavour: FlavourGlobal, SignType: "MD5", MD5Key: TestMD5Key},
	} {
		if err := e.sim.AddPartner(p); err != nil {
			t.Fatal(err)
		}
	}
	e.gw = httptest.NewServer(e.sim.Handler())
	e.merchant = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f, err := notify.DecodeForm(body, r.Header.Get("Content-Type"))
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		e.mu.Lock()
		e.received = append(e.received, f)
		ans := e.answer
		e.mu.Unlock()
		reply := "success"
		if ans != nil {
			reply = ans(f)
		}
		io.WriteString(w, reply)
	}))
	key, err := signing.ParsePrivateKey(TestMerchantPrivateKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	e.merch, _ = signing.NewRSASigner(signing.RSA2, key)
	e.md5, _ = signing.NewMD5(TestMD5Key)
	pub, err := signing.ParsePublicKey(e.sim.AlipayPublicKeyPEM())
	if err != nil {
		t.Fatal(err)
	}
	e.alipayRSA, _ = signing.NewRSAVerifier(signing.RSA, pub)
	e.alipayRSA2, _ = signing.NewRSAVerifier(signing.RSA2, pub)
	t.Cleanup(func() {
		e.sim.Close()
		e.gw.Close()
		e.merchant.Close()
	})
	return e
}

func (e *env) notifyURL() string { return e.merchant.URL + "/notify" }

func (e *env) got() []map[string]string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]map[string]string(nil), e.received...)
}

// orderParams returns a valid app order for partner.
func (e *env) orderParams(partner, outTradeNo, amount, currency string) map[string]string {
	p := map[string]string{
		"service": "mobile.securitypay.pay", "partner": partner, "_input_charset": "UTF-8",
		"notify_url": e.notifyURL(), "out_trade_no": outTradeNo, "subject": "Test order",
		"payment_type": "1", "seller_id": partner, "total_fee": amount, "currency": currency,
		"forex_biz": "FP", "product_code": "NEW_WAP_OVERSEAS_SELLER", "it_b_pay": "30m",
	}
	return p
}

// orderString signs p as the merchant does (Format A, URL-encoded sign).
func (e *env) orderString(p map[string]string, signType signing.SignType) string {
	e.t.Helper()
	key, _ := signing.ParsePrivateKey(TestMerchantPrivateKeyPEM)
	signer, _ := signing.NewRSASigner(signType, key)
	pre := signing.CanonicalA(p)
	sig, err := signer.Sign(pre)
	if err != nil {
		e.t.Fatal(err)
	}
	return pre + `&sign="` + url.QueryEscape(sig) + `"&sign_type="` + string(signType) + `"`
}

// call sends a signed gateway request (GET) and returns status and body.
func (e *env) call(p map[string]string, signType signing.SignType) (int, string) {
	e.t.Helper()
	q := e.signed(p, signType)
	resp, err := http.Get(e.gw.URL + "/gateway.do?" + q.Encode())
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (e *env) signed(p map[string]string, signType signing.SignType) url.Values {
	q := url.Values{}
	for k, v := range p {
		q.Set(k, v)
	}
	var signer signing.Signer = e.merch
	switch signType {
	case signing.MD5:
		signer = e.md5
	case signing.RSA:
		key, _ := signing.ParsePrivateKey(TestMerchantPrivateKeyPEM)
		signer, _ = signing.NewRSASigner(signing.RSA, key)
	}
	sig, _ := signer.Sign(signing.CanonicalB(p))
	q.Set("sign", sig)
	q.Set("sign_type", string(signType))
	return q
}

func (e *env) waitIdle() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.sim.WaitIdle(ctx); err != nil {
		e.t.Fatal(err)
	}
}

// envelope is the parsed XML answer.
type envelope struct {
	IsSuccess string `xml:"is_success"`
	Error     string `xml:"error"`
	Request   struct {
		Params []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:",chardata"`
		} `xml:"param"`
	} `xml:"request"`
	Response struct {
		Inner struct {
			XMLName xml.Name
			Fields  []struct {
				XMLName xml.Name
				Value   string `xml:",chardata"`
			} `xml:",any"`
		} `xml:",any"`
	} `xml:"response"`
	Sign     string `xml:"sign"`
	SignType string `xml:"sign_type"`
}

func parseEnvelope(t *testing.T, body string) (envelope, map[string]string) {
	t.Helper()
	var env envelope
	if err := xml.NewDecoder(strings.NewReader(body)).Decode(&env); err != nil {
		t.Fatalf("bad XML %q: %v", body, err)
	}
	f := map[string]string{}
	for _, x := range env.Response.Inner.Fields {
		f[x.XMLName.Local] = x.Value
	}
	return env, f
}

// verifyNotification checks a notification the way a merchant does.
func (e *env) verifyFields(f map[string]string) error {
	var v signing.Verifier
	switch f["sign_type"] {
	case "RSA":
		v = e.alipayRSA
	case "RSA2":
		v = e.alipayRSA2
	case "MD5":
		v = e.md5
	}
	return v.Verify(signing.CanonicalB(f), f["sign"])
}
