// Package antom is the paymux provider for Antom's online payment API (AMS,
// /ams/api/v1/payments/*), the one integration that reaches the Alipay+ wallets: GCash, Kakao
// Pay, TrueMoney, DANA, Touch 'n Go, AlipayHK, Alipay CN and more, each a method chosen by
// paymentMethod.paymentMethodType.
//
// The wire protocol: JSON both ways; every request, response and notification signed
// SHA256withRSA over "POST <path>\n<client-id>.<time>.<raw body>", the signature in a header;
// amounts as minor-unit strings; results S (success), F (failure) or U (unknown, never a
// failure). Payments are CASHIER_PAYMENT orders whose paymentRequestId is the host's
// out_trade_no, so a retried create reuses the order; refunds are keyed by the host's
// out_refund_no. Responses whose signature does not verify are unknown outcomes, and a
// notification moves money only when its client id is the account's and its signature verifies
// over the public notify path.
package antom
