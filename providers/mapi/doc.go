// Package mapi is the Alipay "mapi" gateway family (gateway.do) shared by every provider built on
// it (Alipay cross-border, AlipayHK): account settings, request signing, the SDK order string and
// the page redirect, the gateway client with its XML envelope and response-signature check,
// notify_verify, notification verification, gateway error codes mapped to core error kinds,
// trade/refund status mapping, and the reconciliation and rate file parsers.
//
// A provider composes these pieces with its own parameter presets; nothing here knows a product's
// service names for payments (mobile.securitypay.pay, create_forex_trade_wap) beyond helpers that
// take them as arguments.
//
// Protocol facts follow shared/protocol/alipay-crossborder.md; facts marked UNCONFIRMED there are
// settings here.
package mapi
