package alipayhk

import (
	"strings"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/core/signing"
	"github.com/paymux/paymux/providers/mapi"
)

// Names of the HK account settings beyond mapi's common ones and the SFTP ones.
const (
	SetCurrency        = mapi.SetCurrency
	SetProductCode     = mapi.SetProductCode
	SetItBPay          = mapi.SetItBPay
	SetGmtReturnFormat = "gmt_return_format"
	SetRefundIsSync    = "refund_is_sync"
	SetRefundReason    = "refund_reason"
	SetOrderSignType   = "order_sign_type"
)

// The two documented gmt_return layouts (alipayhk.md 9 and 17 #11): the HK page and epay say
// `yyyy-MM-dd HH:mm:ss`, older code comments `YYYYMMDDHHMMSS`. The setting takes either name.
const (
	GmtReturnDashed  = "yyyy-MM-dd HH:mm:ss"
	GmtReturnCompact = "yyyyMMddHHmmss"
)

var gmtReturnLayouts = map[string]string{
	GmtReturnDashed:  mapi.LayoutDateTime,
	GmtReturnCompact: mapi.LayoutCompact,
}

// DefaultProductCode is the product_code of the SDK order string (alipayhk.md 5.1).
const DefaultProductCode = mapi.DefaultProductCode

func hkSettings() []core.Setting {
	return []core.Setting{
		{Name: SetCurrency, Description: "settlement currency; AlipayHK settles in HKD only, so only HKD is accepted (default HKD)"},
		{Name: SetProductCode, Description: "product_code of the order string (default " + DefaultProductCode + ")"},
		{Name: SetItBPay, Description: "default payment timeout when a payment has no expiry: 30m, 2h, 1d or 1c (default: left out, the wallet's own default)"},
		{Name: SetGmtReturnFormat, Description: "layout of forex_refund's gmt_return: \"" + GmtReturnDashed + "\" (HK page, default) or \"" + GmtReturnCompact + "\" (older code); the sources disagree"},
		{Name: SetRefundIsSync, Description: "true: refunds use is_sync=Y (the answer is the final result); false (default): is_sync=N, the result comes by notification"},
		{Name: SetRefundReason, Description: "reason sent with refunds that carry none (HK requires one; default \"Refund\")"},
		{Name: SetOrderSignType, Description: "sign type of the SDK order string: RSA or RSA2 (the docs list only these), or MD5 (unconfirmed); default: sign_type when it is RSA or RSA2, else RSA with private_key_file"},
	}
}

// hkConfig is the HK part of an account's settings.
type hkConfig struct {
	orderSigner     signing.Signer
	productCode     string
	itBPay          string
	gmtReturnLayout string
	refundSync      bool
	refundReason    string
}

func parseHK(raw map[string]string) (*hkConfig, error) {
	// AlipayHK settles in HKD only: the setting may say so, nothing else.
	if _, err := mapi.ParseCurrency(raw, "HKD"); err != nil {
		return nil, err
	}
	h := &hkConfig{refundReason: strings.TrimSpace(raw[SetRefundReason])}
	var err error
	if h.productCode, err = mapi.ParseProductCode(raw); err != nil {
		return nil, err
	}
	// Unset, it_b_pay is left out of the order: the wallet's own default applies.
	if h.itBPay, err = mapi.ParseItBPay(raw, ""); err != nil {
		return nil, err
	}
	f, err := mapi.ParseEnum(raw, SetGmtReturnFormat, GmtReturnDashed, GmtReturnDashed, GmtReturnCompact)
	if err != nil {
		return nil, err
	}
	h.gmtReturnLayout = gmtReturnLayouts[f]
	if h.refundSync, err = mapi.ParseBool(raw, SetRefundIsSync, false); err != nil {
		return nil, err
	}
	if h.refundReason == "" {
		h.refundReason = "Refund"
	} else if strings.ContainsRune(h.refundReason, '"') {
		return nil, core.Errorf(core.ECONFIG, "setting %s must not contain a double quote", SetRefundReason)
	}
	return h, nil
}

// orderSigner picks the signer of the SDK order string. mobile.securitypay.pay documents RSA and
// RSA2 only (alipayhk.md 5.1); an MD5 account signs its server calls with MD5 but its order
// strings with its RSA key, unless order_sign_type says MD5.
func orderSigner(raw map[string]string, s *mapi.Settings) (signing.Signer, error) {
	def := string(s.SignType)
	if s.SignType == signing.MD5 {
		def = string(signing.RSA)
		if strings.TrimSpace(raw[mapi.SetPrivateKeyFile]) == "" {
			def = string(signing.MD5)
		}
	}
	v, err := mapi.ParseEnum(raw, SetOrderSignType, def, string(signing.RSA), string(signing.RSA2), string(signing.MD5))
	if err != nil {
		return nil, err
	}
	t := signing.SignType(v)
	if t == signing.MD5 {
		// The key md5_signing_key names: with several md5_key values (a rotation) the verifier
		// is all of them, and the order string goes to the gateway in the buyer's wallet.
		if m := s.MD5Signer(); m != nil {
			return m, nil
		}
		return nil, core.Errorf(core.ECONFIG, "setting %s is MD5 but %s is not set", SetOrderSignType, mapi.SetMD5Key)
	}
	if strings.TrimSpace(raw[mapi.SetPrivateKeyFile]) == "" {
		return nil, core.Errorf(core.ECONFIG, "setting %s is %s but %s is not set", SetOrderSignType, t, mapi.SetPrivateKeyFile)
	}
	return s.RSASigner(raw, t)
}
