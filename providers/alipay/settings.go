package alipay

import (
	"regexp"
	"strings"

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
	SetTimeoutRule        = "h5_timeout_rule"        // create_forex_trade_wap timeout_rule, sent only when set
	SetH5AppPay           = "h5_app_pay"             // create_forex_trade_wap app_pay=Y (UNCONFIRMED in the docs)
	SetSettlementService  = "settlement_file"        // compare (forex_compare_file, default) or liquidation
	SetSplitFundQuoteMode = "split_fund_info_quotes" // json (default) or single: replace " by ' (the web demo does; UNCONFIRMED)
)

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

func settingsSchema() []core.Setting { return append(mapi.CommonSettings(), ownSettings()...) }

// ownSettings describes the settings of the cross-border product beyond mapi's common ones.
func ownSettings() []core.Setting {
	return []core.Setting{
		{Name: SetCurrency, Required: true, Description: "settlement currency of the contract (ISO 4217, not CNY); CNY payments are priced with rmb_fee and settle in it"},
		{Name: SetProductCode, Description: "product_code sent with payments and refunds (default NEW_WAP_OVERSEAS_SELLER)"},
		{Name: SetItBPay, Description: "app order timeout when the payment has no expiry: 1m..15d in m, h or d, or 1c (default 30m)"},
		{Name: SetAppSignType, Description: "sign type of the SDK order string: RSA (default; the docs say the APP product takes only RSA) or RSA2"},
		{Name: SetRefundIsSync, Description: "true (default): forex_refund is_sync=Y, the answer carries the result; false: is_sync=N, the result comes by refund notification"},
		{Name: SetTimeoutRule, Description: "h5 timeout_rule (e.g. 30m, 1h, 12h); not sent when empty (gateway default 12h)"},
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
