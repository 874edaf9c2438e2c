package mapi

import (
	"encoding/json"
	"net/url"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/paymux/paymux/core"
)

// SetAppOrder sets the parameters of a mobile.securitypay.pay order that both products send with
// the same values (alipayhk.md 2: service, payment_type=1, forex_biz=FP; the account's partner,
// seller and charset) plus the product_code and it_b_pay the provider chose ("" leaves it_b_pay
// out). The caller adds the order, its price and its product's own parameters.
func SetAppOrder(params map[string]string, s *Settings, productCode, itBPay string) {
	params["service"] = ServiceAppPay
	params["partner"] = s.Partner
	params["seller_id"] = s.SellerID
	params["_input_charset"] = s.InputCharset
	params["payment_type"] = "1"
	params["forex_biz"] = "FP"
	params["product_code"] = productCode
	params["it_b_pay"] = itBPay
}

// CheckText rejects what the gateway cannot take in a free-text value (subject, body, names):
// invalid UTF-8, more than max bytes, control characters, `"` (it ends a value of the order
// string), `&name=` for any known mapi parameter name (it could pass for that parameter where
// values are joined unescaped) and, per the docs, the key names Alipay intercepts orders for.
// "" is an error only when required.
func CheckText(name, v string, max int, required bool) error {
	if v == "" {
		if required {
			return core.Errorf(core.EINVALID, "%s is required", name)
		}
		return nil
	}
	if !utf8.ValidString(v) || len(v) > max {
		return core.Errorf(core.EINVALID, "%s must be valid UTF-8 of at most %d bytes", name, max)
	}
	if strings.ContainsAny(v, "\"\r\n\t\x00") {
		return core.Errorf(core.EINVALID, "%s must not contain double quotes or control characters", name)
	}
	if k := smuggled(v); k != "" {
		return core.Errorf(core.EINVALID, "%s must not contain %q (it could pass for a parameter)", name, k)
	}
	for _, k := range []string{"out_trade_no=", "total_fee=", "seller_id=", "partner=", "sign="} {
		if strings.Contains(v, k) {
			return core.Errorf(core.EINVALID, "%s must not contain %q (Alipay intercepts such orders)", name, k)
		}
	}
	return nil
}

// CheckURL requires an absolute http(s) URL of at most 200 bytes; only refer_url (a merchant's
// page) may carry a query: the docs forbid custom parameters on notify_url and return_url.
func CheckURL(name, v string) error {
	if v == "" {
		return core.Errorf(core.EINVALID, "%s is required", name)
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(v) > 200 || strings.ContainsAny(v, "\"") {
		return core.Errorf(core.EINVALID, "%s must be an absolute http(s) URL of at most 200 bytes", name)
	}
	if u.RawQuery != "" && name != "refer_url" {
		return core.Errorf(core.EINVALID, "%s must not carry a query string", name)
	}
	return nil
}

var (
	reSecondaryID = regexp.MustCompile(`^[A-Za-z0-9_]{1,64}$`)
	reMCC         = regexp.MustCompile(`^[0-9]{4}$`)
)

// CheckExtra validates the value of an optional order parameter that both products take from
// provider_extras with the same meaning: trade_information, refer_url, appenv and the
// secondary_merchant_id/_name/_industry of acquirers. known is false for any other name: which
// names a product accepts, and the checks of its own ones, stay with the provider.
func CheckExtra(name, v string) (known bool, err error) {
	switch name {
	case "trade_information":
		return true, checkTradeInformation(v)
	case "refer_url":
		return true, CheckURL(name, v)
	case "appenv":
		// e.g. system=android^version=3.0.1.2; its length is not documented: 256 is paymux's bound.
		return true, CheckText(name, v, 256, false)
	case "secondary_merchant_id":
		if !reSecondaryID.MatchString(v) {
			return true, core.Errorf(core.EINVALID, "secondary_merchant_id must be 1-64 letters, digits or '_'")
		}
		return true, nil
	case "secondary_merchant_name":
		return true, CheckText(name, v, 128, true)
	case "secondary_merchant_industry":
		if !reMCC.MatchString(v) {
			return true, core.Errorf(core.EINVALID, "secondary_merchant_industry must be a 4-digit MCC")
		}
		return true, nil
	}
	return false, nil
}

// checkTradeInformation requires a JSON object of string values with business_type 1-5 (or
// several joined by '|'), at most 6000 bytes, without `"&` (it would end the value early in the
// order string).
func checkTradeInformation(v string) error {
	if len(v) > 6000 {
		return core.Errorf(core.EINVALID, "trade_information is over 6000 bytes")
	}
	var obj map[string]string
	if err := json.Unmarshal([]byte(v), &obj); err != nil {
		return core.Errorf(core.EINVALID, "trade_information must be a JSON object of strings: %v", err)
	}
	bt := obj["business_type"]
	if bt == "" {
		return core.Errorf(core.EINVALID, "trade_information needs business_type")
	}
	for _, t := range strings.Split(bt, "|") {
		if len(t) != 1 || t[0] < '1' || t[0] > '5' {
			return core.Errorf(core.EINVALID, "trade_information business_type %q is not 1-5", bt)
		}
	}
	if strings.Contains(v, `"&`) {
		return core.Errorf(core.EINVALID, "trade_information must not contain '\"&' (it would break the order string)")
	}
	return nil
}
