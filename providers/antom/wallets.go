package antom

import (
	"strings"

	"github.com/paymux/paymux/core"
)

// wallet is one Alipay+ wallet Antom reaches: a paymux method.
type wallet struct {
	typ   string // paymentMethod.paymentMethodType
	name  string
	rules []core.AmountRule // the wallet's home currency, with its documented per-payment limits
	// multipleOf, when set, is a step every amount must be a multiple of (IDR: whole rupiah).
	multipleOf int64
}

// wallets are the wallets this provider offers, one method each. Currencies are the wallet's
// home currency (antom.md section 13); limits are set only where a source gives them, in minor
// units. Presenting in another currency with Antom's conversion is not offered.
var wallets = []wallet{
	{typ: "ALIPAY_CN", name: "Alipay (CN)", rules: []core.AmountRule{{Currency: "CNY", Min: 10, Max: 30_000_000}}},
	{typ: "ALIPAY_HK", name: "AlipayHK", rules: []core.AmountRule{{Currency: "HKD", Min: 1}}},
	{typ: "GCASH", name: "GCash", rules: []core.AmountRule{{Currency: "PHP", Min: 100, Max: 10_000_000}}},
	{typ: "KAKAOPAY", name: "Kakao Pay", rules: []core.AmountRule{{Currency: "KRW", Min: 50, Max: 2_000_000}}},
	{typ: "TRUEMONEY", name: "TrueMoney", rules: []core.AmountRule{{Currency: "THB", Min: 100, Max: 3_000_000}}},
	{typ: "KPLUS", name: "K PLUS", rules: []core.AmountRule{{Currency: "THB", Min: 100, Max: 200_000_000}}},
	{typ: "RABBIT_LINE_PAY", name: "Rabbit LINE Pay", rules: []core.AmountRule{{Currency: "THB", Min: 1}}},
	{typ: "DANA", name: "DANA", rules: []core.AmountRule{{Currency: "IDR", Min: 100}}, multipleOf: 100},
	{typ: "TNG", name: "Touch 'n Go eWallet", rules: []core.AmountRule{{Currency: "MYR", Min: 1}}},
	{typ: "BOOST", name: "Boost", rules: []core.AmountRule{{Currency: "MYR", Min: 1}}},
	{typ: "GRABPAY_MY", name: "GrabPay (MY)", rules: []core.AmountRule{{Currency: "MYR", Min: 1}}},
	{typ: "GRABPAY_PH", name: "GrabPay (PH)", rules: []core.AmountRule{{Currency: "PHP", Min: 1}}},
	{typ: "GRABPAY_SG", name: "GrabPay (SG)", rules: []core.AmountRule{{Currency: "SGD", Min: 1}}},
	{typ: "MAYA", name: "Maya", rules: []core.AmountRule{{Currency: "PHP", Min: 1}}},
	{typ: "NAVERPAY", name: "NAVER Pay", rules: []core.AmountRule{{Currency: "KRW", Min: 1}}},
	{typ: "TOSSPAY", name: "Toss Pay", rules: []core.AmountRule{{Currency: "KRW", Min: 1}}},
}

// methodID is the paymux method of a wallet: its paymentMethodType in lower case.
func (w wallet) methodID() string { return strings.ToLower(w.typ) }

func walletByMethod(id string) (wallet, bool) {
	for _, w := range wallets {
		if w.methodID() == id {
			return w, true
		}
	}
	return wallet{}, false
}

// check applies the method's rules to an amount: a provider must not trust the host's check.
func (w wallet) check(m core.Money) error {
	cm := core.Method{ID: w.methodID(), AmountRules: w.rules}
	if err := cm.CheckAmount(m); err != nil {
		return err
	}
	if w.multipleOf > 0 && m.Value%w.multipleOf != 0 {
		return core.Errorf(core.EINVALID, "%s amounts must be whole %s (a multiple of %d minor units)", w.name, m.Currency, w.multipleOf)
	}
	return nil
}
