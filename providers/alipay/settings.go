package alipay

import (
	"regexp"
	"slices"
	"strings"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/core/signing"
	"github.com/paymux/paymux/providers/mapi"
)

// Alipay-specific account settings (the common mapi ones are in package mapi).
const (
	SetCurrency           = "currency"               // settlement currency (required)
	SetProductCode        = "product_code"           // default NEW_WAP_OVERSEAS_SELLER
	SetItBPay             = "it_b_pay"               // app order timeout when the request sets none, default 30m
	SetAppSignType        = "app_sign_type"          // sign type of the SDK order string (UNCONFIRMED: RSA only vs RSA and RSA2)
	SetRefundIsSync       = "refund_is_sync"         // forex_refund is_sync=Y (default true)
	SetTimeoutRule        = "h5_timeout_rule"        // create_forex_trade_wap timeout_rule, sent only when set
	SetH5AppPay           = "h5_app_pay"             // create_forex_trade_wap app_pay=Y (UNCONFIRMED in the docs)
	SetSettlementService  = "settlement_file"        // compare (forex_compare_file, default) or liquidation
	SetSplitFundQuoteMode = "split_fund_info_quotes" // json (default) or single: replace " by ' (the web demo does; UNCONFIRMED)
)

var itBPayRE = regexp.MustCompile(`^([1-9][0-9]{0,4})([mhd])$|^1c$`)

// account is one configured merchant account.
type account struct {
	mapi        *mapi.Settings
	client      *mapi.Client
	appSigner   signing.Signer // nil when the account has no private key (MD5-only: no app channel)
	currency    string
	productCode string
	itBPay      string
	refundSync  bool
	timeoutRule string
	h5AppPay    bool
	settlement  string
	singleQuote bool
}

func settingsSchema() []core.Setting {
	return append(mapi.CommonSettings(),
		core.Setting{Name: SetCurrency, Required: true, Description: "settlement currency of the contract (ISO 4217, not CNY); CNY payments are priced with rmb_fee and settle in it"},
		core.Setting{Name: SetProductCode, Description: "product_code sent with payments and refunds (default NEW_WAP_OVERSEAS_SELLER)"},
		core.Setting{Name: SetItBPay, Description: "app order timeout when the payment has no expiry: 1m..15d in m, h or d, or 1c (default 30m)"},
		core.Setting{Name: SetAppSignType, Description: "sign type of the SDK order string: RSA (default; the docs say the APP product takes only RSA) or RSA2"},
		core.Setting{Name: SetRefundIsSync, Description: "true (default): forex_refund is_sync=Y, the answer carries the result; false: is_sync=N, the result comes by refund notification"},
		core.Setting{Name: SetTimeoutRule, Description: "h5 timeout_rule (e.g. 30m, 1h, 12h); not sent when empty (gateway default 12h)"},
		core.Setting{Name: SetH5AppPay, Description: "true: h5 sends app_pay=Y so the cashier opens the wallet app when installed (default false)"},
		core.Setting{Name: SetSettlementService, Description: "settlement records from forex_compare_file (compare, default: every payment and refund) or forex_liquidation_file (liquidation: settled ones)"},
		core.Setting{Name: SetSplitFundQuoteMode, Description: "json (default) sends split_fund_info as given; single replaces \" by ' as Alipay's web demo does"},
	)
}

func parseAccount(raw map[string]string) (*account, error) {
	s, err := mapi.ParseSettings(raw, SetCurrency, SetProductCode, SetItBPay, SetAppSignType, SetRefundIsSync,
		SetTimeoutRule, SetH5AppPay, SetSettlementService, SetSplitFundQuoteMode)
	if err != nil {
		return nil, err
	}
	a := &account{mapi: s}
	a.currency = strings.TrimSpace(raw[SetCurrency])
	switch {
	case a.currency == "":
		return nil, core.Errorf(core.ECONFIG, "setting %s is required (the settlement currency, e.g. USD)", SetCurrency)
	case a.currency == "CNY":
		return nil, core.Errorf(core.ECONFIG, "setting %s must be the foreign settlement currency, never CNY", SetCurrency)
	case !slices.Contains(SettlementCurrencies, a.currency):
		return nil, core.Errorf(core.ECONFIG, "setting %s %q is not a cross-border settlement currency (%s)", SetCurrency, a.currency, strings.Join(SettlementCurrencies, ", "))
	}
	a.productCode = strings.TrimSpace(raw[SetProductCode])
	if a.productCode == "" {
		a.productCode = "NEW_WAP_OVERSEAS_SELLER"
	} else if !regexp.MustCompile(`^[A-Z_]{1,64}$`).MatchString(a.productCode) {
		return nil, core.Errorf(core.ECONFIG, "setting %s must be upper-case letters and underscores, got %q", SetProductCode, a.productCode)
	}
	a.itBPay = strings.TrimSpace(raw[SetItBPay])
	if a.itBPay == "" {
		a.itBPay = "30m"
	} else if err := checkItBPay(a.itBPay); err != nil {
		return nil, core.Errorf(core.ECONFIG, "setting %s: %s", SetItBPay, core.ErrorMessage(err))
	}
	appType, err := mapi.ParseEnum(raw, SetAppSignType, "RSA", "RSA", "RSA2")
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(raw[mapi.SetPrivateKeyFile]) != "" {
		if a.appSigner, err = s.RSASigner(raw, signing.SignType(appType)); err != nil {
			return nil, err
		}
	}
	if a.refundSync, err = mapi.ParseBool(raw, SetRefundIsSync, true); err != nil {
		return nil, err
	}
	a.timeoutRule = strings.TrimSpace(raw[SetTimeoutRule])
	if a.timeoutRule != "" && !regexp.MustCompile(`^[1-9][0-9]{0,4}[mhd]$`).MatchString(a.timeoutRule) {
		return nil, core.Errorf(core.ECONFIG, "setting %s must look like 30m, 1h or 1d, got %q", SetTimeoutRule, a.timeoutRule)
	}
	if a.h5AppPay, err = mapi.ParseBool(raw, SetH5AppPay, false); err != nil {
		return nil, err
	}
	if a.settlement, err = mapi.ParseEnum(raw, SetSettlementService, "compare", "compare", "liquidation"); err != nil {
		return nil, err
	}
	quotes, err := mapi.ParseEnum(raw, SetSplitFundQuoteMode, "json", "json", "single")
	if err != nil {
		return nil, err
	}
	a.singleQuote = quotes == "single"
	return a, nil
}

// checkItBPay accepts the relative forms of it_b_pay: 1m..15d in whole units, or 1c.
func checkItBPay(v string) error {
	m := itBPayRE.FindStringSubmatch(v)
	if m == nil {
		return core.Errorf(core.EINVALID, "it_b_pay must be a whole number of m, h or d (e.g. 30m, 2h, 1d) or 1c, got %q", v)
	}
	if v == "1c" {
		return nil
	}
	n := 0
	for _, c := range m[1] {
		n = n*10 + int(c-'0')
	}
	minutes := n * map[string]int{"m": 1, "h": 60, "d": 1440}[m[2]]
	if minutes > 15*1440 {
		return core.Errorf(core.EINVALID, "it_b_pay %q is longer than 15d", v)
	}
	return nil
}
