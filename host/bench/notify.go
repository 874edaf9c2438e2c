package bench

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/core/signing"
	"github.com/paymux/paymux/providers/mapisim"
)

// Notifier builds trade_status_sync notifications as the simulator's notifier does: the fields
// of mapisim's tradeFields, a notify_id and notify_time per delivery, Format B signed RSA2 with
// the simulator's (throw-away) Alipay key. The bench signs them itself so that a storm can be
// prepared before the clock starts and replayed at any rate.
type Notifier struct {
	signer signing.Signer
	zone   *time.Location
}

// NewNotifier returns a Notifier with the simulator's test Alipay key.
func NewNotifier() (*Notifier, error) {
	key, err := signing.ParsePrivateKey(mapisim.TestAlipayPrivateKeyPEM)
	if err != nil {
		return nil, fmt.Errorf("simulator key: %w", err)
	}
	s, err := signing.NewRSASigner(signing.RSA2, key)
	if err != nil {
		return nil, err
	}
	return &Notifier{signer: s, zone: time.FixedZone("GMT+8", 8*3600)}, nil
}

// TradeNotice is one trade_status_sync delivery.
type TradeNotice struct {
	OutTradeNo string
	TradeNo    string
	Status     string // mapisim.StatusTradeFinished, StatusWaitBuyerPay, ...
	Amount     core.Money
	NotifyID   string
	At         time.Time
	// SellerID is the merchant the notification names (seller_id); "" means Partner. A host
	// account refuses a notification naming another merchant than its own.
	SellerID string
}

// Form returns the signed, form-encoded body.
func (n *Notifier) Form(t TradeNotice) ([]byte, error) {
	at := t.At.In(n.zone).Format("2006-01-02 15:04:05")
	f := map[string]string{
		"notify_type": "trade_status_sync", "notify_id": t.NotifyID, "notify_time": at,
		"out_trade_no": t.OutTradeNo, "trade_no": t.TradeNo, "trade_status": t.Status,
		"total_fee": t.Amount.Decimal(), "currency": t.Amount.Currency, "subject": "bench",
		"seller_id": Partner, "gmt_create": at,
	}
	if t.SellerID != "" {
		f["seller_id"] = t.SellerID
	}
	if t.Status == mapisim.StatusTradeFinished {
		f["gmt_payment"] = at
	}
	sig, err := n.signer.Sign(signing.CanonicalB(f))
	if err != nil {
		return nil, err
	}
	v := url.Values{}
	for k, x := range f {
		v.Set(k, x)
	}
	v.Set("sign", sig)
	v.Set("sign_type", string(n.signer.Type()))
	return []byte(v.Encode()), nil
}

// TradeNo returns a 28-digit Alipay-style trade number for i.
func TradeNo(i int) string { return "2026112200" + fmt.Sprintf("%018s", strconv.Itoa(i)) }

// AntomHeaders signs an Antom JSON notification body for the stack's account as antomsim's
// notifier does (its own signing code and Antom key, over POST <notify path>\n<client id>.
// <request time>.<body>) and returns the headers to send with it. Provider "antom" only.
func (s *Stack) AntomHeaders(body []byte) (http.Header, error) {
	if s.Antom == nil {
		return nil, fmt.Errorf("bench: the stack has no Antom simulator (Provider %q)", s.opts.Provider)
	}
	return s.Antom.NotificationHeaders(AntomClientID, s.URL+s.NotifyPath(), body)
}
