// Package alipayhk is the AlipayHK APP payment provider (the AlipayHK SDK product, legacy mapi
// gateway): one integration that lets a buyer pay in HKD with either the AlipayHK wallet or the
// mainland Alipay wallet, offered as two methods (two checkout buttons).
//
// It is built on providers/mapi, which it shares with the Alipay cross-border provider: this
// package only holds what the HK product does differently (alipayhk.md section 2): HKD only,
// payment_inst per method, the HK forex_refund parameters, no close, and reconciliation from
// files on AlipayHK's SFTP server instead of a gateway API. The file readers here stream
// `PID_fptrade_YYYYMMDD.csv` and the settlement zip `PID_YYYYMMDD.zip`, UTF-8 or GBK.
package alipayhk
