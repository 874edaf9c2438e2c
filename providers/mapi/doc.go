// Package mapi is the Alipay "mapi" gateway family (gateway.do) shared by every provider built on
// it (Alipay cross-border, AlipayHK): account settings, request signing, the SDK order string and
// the page redirect, the gateway client with its XML envelope and response-signature check,
// notify_verify, notification verification, gateway error codes mapped to core error kinds,
// trade/refund status mapping, and the reconciliation and rate file parsers.
//
// It also holds what the two payment products do the same way (alipayhk.md section 2 lists
// what differs): the currency, product_code and it_b_pay settings (product.go), the app order
// presets and the checks of order parameters and extras (params.go), the SDK client-result
// check (clientresult.go), payment and refund queries (trade.go), the capabilities and the
// account registry (provider.go). A provider composes these with its own presets: HKD and
// payment_inst for AlipayHK; CNY pricing (rmb_fee), the h5 channel and the settlement files
// for cross-border; each product's forex_refund parameters.
//
// Protocol facts follow shared/protocol/alipay-crossborder.md; facts marked UNCONFIRMED there are
// settings here.
package mapi
