package alipay

import (
	"strings"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/core/signing"
	"github.com/paymux/paymux/providers/mapi"
)

// Alipay-specific account settings (the common mapi ones are in package mapi).
const (
	SetCurrency           = mapi.SetCurrency         // settlement currency (required)
	SetProductCode        = mapi.SetProductCode      // default mapi.DefaultProductCode
	SetItBPay             = mapi.SetItBPay           // app order timeout when the request sets none, default 30m
	SetAppSignType        = "app_sign_type"          // sign type of the SDK order string (UNCONFIRMED: RSA only vs RSA and RSA2)
	SetRefundIsSync       = "refund_is_sync"         // forex_refund is_sync=Y (default true)
	SetTimeoutRule        = "h5_timeout_rule"        // the longest create_forex_trade_wap timeout_rule sent (default 15d); the value is derived from the payment's expiry
	SetTimeoutAnchor      = "h5_timeout_anchor"      // companion of timeout_rule: order_create (default), order_gmt_create or none (UNCONFIRMED)
	SetH5AppPay           = "h5_app_pay"             // create_forex_trade_wap app_pay=Y (UNCONFIRMED in the docs)
	SetSettlementService  = "settlement_file"        // compare (forex_compare_file, default) or liquidation
	SetSplitFundQuoteMode = "split_fund_info_quotes" // json (default) or single: replace " by ' (the web demo does; UNCONFIRMED)
)

// account is one configured merchant account.
type account struct {
	mapi          *mapi.Settings
	client        *mapi.Client
	appSigner     signing.Signer // nil when the account has no private key (MD5-only: no app channel)
	currency      string
	productCode   string
	itBPay        string
	refundSync    bool
	timeoutMax    time.Duration // cap of the derived timeout_rule; 0: none beyond 15d
	timeoutAnchor string
	h5AppPay      bool
	settlement    string
	singleQuote   bool
}

func settingsSchema() []core.Setting { return append(mapi.CommonSettings(), ownSettings()...) }

// ownSettings describes the settings of the cross-border product beyond mapi's common ones.
func ownSettings() []core.Setting {
	return []core.Setting{
		{Name: SetCurrency, Required: true, Description: "settlement currency of the contract (ISO 4217, not CNY); CNY payments are priced with rmb_fee and settle in it"},
		{Name: SetProductCode, Description: "product_code sent with payments and refunds (default NEW_WAP_OVERSEAS_SELLER)"},
		{Name: SetItBPay, Description: "app order timeout when the payment has no expiry: 1m..15d in m, h or d, or 1c (default 30m)"},
		{Name: SetAppSignType, Description: "sign type of the SDK order string: RSA (default; the docs say the APP product takes only RSA) or RSA2"},
		{Name: SetRefundIsSync, Description: "true (default): forex_refund is_sync=Y, the answer carries the result; false: is_sync=N, the result comes by refund notification"},
		{Name: SetTimeoutRule, Description: "the longest h5 timeout_rule paymux sends (e.g. 30m, 1h, 12h; default 15d): the value sent is the time left until the payment's expiry, rounded down to whole minutes, so that the wallet never keeps a trade open longer than paymux"},
		{Name: SetTimeoutAnchor, Description: "the field that anchors timeout_rule at the order's creation (the documents say timeout_rule alone counts from the buyer's login): order_create (default: creation time, unix seconds; UNCONFIRMED format), order_gmt_create (with order_valid_time, the desktop pages' pair) or none"},
		{Name: SetH5AppPay, Description: "true: h5 sends app_pay=Y so the cashier opens the wallet app when installed (default false)"},
		{Name: SetSettlementService, Description: "settlement records from forex_compare_file (compare, default: every payment and refund) or forex_liquidation_file (liquidation: settled ones)"},
		{Name: SetSplitFundQuoteMode, Description: "json (default) sends split_fund_info as given; single replaces \" by ' as Alipay's web demo does"},
	}
}

func parseAccount(raw map[string]string) (*account, error) {
	s, err := mapi.ParseSettings(raw, mapi.SettingNames(ownSettings())...)
	if err != nil {
		return nil, err
	}
	a := &account{mapi: s}
	if a.currency, err = mapi.ParseCurrency(raw, SettlementCurrencies...); err != nil {
		return nil, err
	}
	if a.productCode, err = mapi.ParseProductCode(raw); err != nil {
		return nil, err
	}
	if a.itBPay, err = mapi.ParseItBPay(raw, "30m"); err != nil {
		return nil, err
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
	if v := strings.TrimSpace(raw[SetTimeoutRule]); v != "" {
		if a.timeoutMax, err = mapi.ParseTimeoutRule(v); err != nil {
			return nil, core.Errorf(core.ECONFIG, "setting %s must look like 30m, 1h or 1d (at most 15d), got %q", SetTimeoutRule, v)
		}
	}
	if a.timeoutAnchor, err = mapi.ParseEnum(raw, SetTimeoutAnchor, "order_create", "order_create", "order_gmt_create", "none"); err != nil {
		return nil, err
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
