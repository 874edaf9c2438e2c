package wallet

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/paymux/paymux/core"
)

// Pay plays the buyer and the fake wallet's server for a redirect action that CreatePayment
// returned: it posts the signed "paid" notification to the payment's notify_url, as the wallet
// would, and returns the signed result the cashier hands back to the merchant's page. key is
// the account's hmac_key. Tests and the conformance kit's Harness.Pay use it; a real provider
// has its gateway's simulator instead.
func Pay(ctx context.Context, key []byte, action core.NextAction) (map[string]string, error) {
	if action.Type != core.ActionRedirectURL {
		return nil, fmt.Errorf("wallet: cannot pay a %s action", action.Type)
	}
	u, err := url.Parse(action.Value)
	if err != nil {
		return nil, fmt.Errorf("wallet: action URL: %w", err)
	}
	q := u.Query()
	signed := map[string]string{}
	for k := range q {
		if k != "sign" {
			signed[k] = q.Get(k)
		}
	}
	if Sign(key, signed) != q.Get("sign") {
		return nil, fmt.Errorf("wallet: the cashier URL's signature does not verify")
	}
	value, err := strconv.ParseInt(q.Get("amount"), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("wallet: amount %q: %w", q.Get("amount"), err)
	}
	amount := core.Money{Value: value, Currency: q.Get("currency")}

	note := map[string]string{"out_trade_no": q.Get("out_trade_no"), "amount": q.Get("amount"), "currency": amount.Currency,
		"status": "paid", "notify_id": "n_" + q.Get("out_trade_no")}
	note["sign"] = Sign(key, note)
	form := url.Values{}
	for k, v := range note {
		form.Set(k, v)
	}
	if notifyURL := q.Get("notify_url"); notifyURL != "" {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, notifyURL, strings.NewReader(form.Encode()))
		if err != nil {
			return nil, fmt.Errorf("wallet: notify: %w", err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, fmt.Errorf("wallet: notify: %w", err)
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 1<<16))
		res.Body.Close()
	}
	result := map[string]string{"out_trade_no": q.Get("out_trade_no"), "total_fee": amount.Decimal(), "status": "paid"}
	result["sign"] = Sign(key, result)
	return result, nil
}
