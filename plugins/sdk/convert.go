package sdk

import (
	"time"

	"github.com/paymux/paymux/core"
	pb "github.com/paymux/paymux/plugins/proto"
)

// The functions below translate core types to their wire form and back, field by field, so
// that a value survives the boundary unchanged (times keep their instant and zone offset).

func moneyToPB(m core.Money) *pb.Money {
	if m == (core.Money{}) {
		return nil
	}
	return &pb.Money{Value: m.Value, Currency: m.Currency}
}

func moneyFromPB(m *pb.Money) core.Money {
	if m == nil {
		return core.Money{}
	}
	return core.Money{Value: m.GetValue(), Currency: m.GetCurrency()}
}

func timeToPB(t time.Time) *pb.Time {
	if t.IsZero() {
		return nil
	}
	zone, off := t.Zone()
	return &pb.Time{Seconds: t.Unix(), Nanos: int32(t.Nanosecond()), UtcOffset: int32(off), Zone: zone}
}

func timeFromPB(t *pb.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	u := time.Unix(t.GetSeconds(), int64(t.GetNanos()))
	if t.GetUtcOffset() == 0 && (t.GetZone() == "UTC" || t.GetZone() == "") {
		return u.UTC()
	}
	return u.In(time.FixedZone(t.GetZone(), int(t.GetUtcOffset())))
}

func durationsToPB(ds []time.Duration) []int64 {
	if len(ds) == 0 {
		return nil
	}
	out := make([]int64, len(ds))
	for i, d := range ds {
		out[i] = int64(d)
	}
	return out
}

func durationsFromPB(ns []int64) []time.Duration {
	if len(ns) == 0 {
		return nil
	}
	out := make([]time.Duration, len(ns))
	for i, n := range ns {
		out[i] = time.Duration(n)
	}
	return out
}

func descriptionToPB(d *core.Description) *pb.Description {
	if d == nil {
		return &pb.Description{}
	}
	out := &pb.Description{
		Name:               d.Name,
		Version:            d.Version,
		QueryScheduleNanos: durationsToPB(d.QuerySchedule),
		DefaultExpiryNanos: int64(d.DefaultExpiry),
		MaxExpiryNanos:     int64(d.MaxExpiry),
	}
	for _, m := range d.Methods {
		pm := &pb.Method{Id: m.ID, Name: m.Name}
		for _, c := range m.Channels {
			pm.Channels = append(pm.Channels, string(c))
		}
		for _, r := range m.AmountRules {
			pm.AmountRules = append(pm.AmountRules, &pb.AmountRule{Currency: r.Currency, Min: r.Min, Max: r.Max, ReportedInSettlement: r.ReportedInSettlement})
		}
		out.Methods = append(out.Methods, pm)
	}
	for _, c := range d.Capabilities {
		out.Capabilities = append(out.Capabilities, string(c))
	}
	for _, s := range d.Settings {
		out.Settings = append(out.Settings, &pb.Setting{Name: s.Name, Required: s.Required, Secret: s.Secret, Description: s.Description, Loosening: s.Loosening})
	}
	return out
}

func descriptionFromPB(d *pb.Description) *core.Description {
	out := &core.Description{
		Name:          d.GetName(),
		Version:       d.GetVersion(),
		QuerySchedule: durationsFromPB(d.GetQueryScheduleNanos()),
		DefaultExpiry: time.Duration(d.GetDefaultExpiryNanos()),
		MaxExpiry:     time.Duration(d.GetMaxExpiryNanos()),
	}
	for _, m := range d.GetMethods() {
		cm := core.Method{ID: m.GetId(), Name: m.GetName()}
		for _, c := range m.GetChannels() {
			cm.Channels = append(cm.Channels, core.Channel(c))
		}
		for _, r := range m.GetAmountRules() {
			cm.AmountRules = append(cm.AmountRules, core.AmountRule{Currency: r.GetCurrency(), Min: r.GetMin(), Max: r.GetMax(), ReportedInSettlement: r.GetReportedInSettlement()})
		}
		out.Methods = append(out.Methods, cm)
	}
	for _, c := range d.GetCapabilities() {
		out.Capabilities = append(out.Capabilities, core.Capability(c))
	}
	for _, s := range d.GetSettings() {
		out.Settings = append(out.Settings, core.Setting{Name: s.GetName(), Required: s.GetRequired(), Secret: s.GetSecret(), Description: s.GetDescription(), Loosening: s.GetLoosening()})
	}
	return out
}

func createToPB(r *core.CreatePaymentRequest) *pb.CreatePaymentRequest {
	return &pb.CreatePaymentRequest{
		Account: r.Account, PaymentId: r.PaymentID, OutTradeNo: r.OutTradeNo, Method: r.Method,
		Channel: string(r.Channel), Amount: moneyToPB(r.Amount), Subject: r.Subject,
		Description: r.Description, ReturnUrl: r.ReturnURL, NotifyUrl: r.NotifyURL,
		ExpiresAt: timeToPB(r.ExpiresAt), Extras: r.Extras,
	}
}

func createFromPB(r *pb.CreatePaymentRequest) *core.CreatePaymentRequest {
	return &core.CreatePaymentRequest{
		Account: r.GetAccount(), PaymentID: r.GetPaymentId(), OutTradeNo: r.GetOutTradeNo(), Method: r.GetMethod(),
		Channel: core.Channel(r.GetChannel()), Amount: moneyFromPB(r.GetAmount()), Subject: r.GetSubject(),
		Description: r.GetDescription(), ReturnURL: r.GetReturnUrl(), NotifyURL: r.GetNotifyUrl(),
		ExpiresAt: timeFromPB(r.GetExpiresAt()), Extras: r.GetExtras(),
	}
}

func createResultToPB(r *core.CreatePaymentResult) *pb.CreatePaymentResult {
	if r == nil {
		return &pb.CreatePaymentResult{}
	}
	return &pb.CreatePaymentResult{Action: actionToPB(r.Action), ProviderRef: r.ProviderRef}
}

func createResultFromPB(r *pb.CreatePaymentResult) *core.CreatePaymentResult {
	return &core.CreatePaymentResult{Action: actionFromPB(r.GetAction()), ProviderRef: r.GetProviderRef()}
}

func actionToPB(a core.NextAction) *pb.NextAction {
	out := &pb.NextAction{Type: string(a.Type), Value: a.Value, AppIdentifier: a.AppIdentifier}
	for _, f := range a.Fallbacks {
		out.Fallbacks = append(out.Fallbacks, actionToPB(f))
	}
	return out
}

// actionFromPB keeps one level of fallbacks, as core.NextAction.Validate allows; deeper ones
// from a misbehaving plugin are dropped here so that a message cannot nest without bound.
func actionFromPB(a *pb.NextAction) core.NextAction {
	out := core.NextAction{Type: core.ActionType(a.GetType()), Value: a.GetValue(), AppIdentifier: a.GetAppIdentifier()}
	for _, f := range a.GetFallbacks() {
		out.Fallbacks = append(out.Fallbacks, core.NextAction{Type: core.ActionType(f.GetType()), Value: f.GetValue(),
			AppIdentifier: f.GetAppIdentifier()})
	}
	return out
}

func clientResultReqToPB(r *core.ClientResultRequest) *pb.ClientResultRequest {
	return &pb.ClientResultRequest{Account: r.Account, OutTradeNo: r.OutTradeNo, Method: r.Method, Amount: moneyToPB(r.Amount), Result: r.Result}
}

func clientResultReqFromPB(r *pb.ClientResultRequest) *core.ClientResultRequest {
	return &core.ClientResultRequest{Account: r.GetAccount(), OutTradeNo: r.GetOutTradeNo(), Method: r.GetMethod(), Amount: moneyFromPB(r.GetAmount()), Result: r.GetResult()}
}

func clientResultToPB(r *core.ClientResult) *pb.ClientResult {
	if r == nil {
		return &pb.ClientResult{}
	}
	return &pb.ClientResult{Verified: r.Verified, Status: string(r.Status), Message: r.Message}
}

func clientResultFromPB(r *pb.ClientResult) *core.ClientResult {
	return &core.ClientResult{Verified: r.GetVerified(), Status: core.PaymentStatus(r.GetStatus()), Message: r.GetMessage()}
}

func notificationReqToPB(r *core.NotificationRequest) *pb.NotificationRequest {
	out := &pb.NotificationRequest{Account: r.Account, Method: r.Method, Query: r.Query, Body: r.Body, NotifyPath: r.NotifyPath, Confirm: r.Confirm}
	if len(r.Header) > 0 {
		out.Header = make(map[string]*pb.HeaderValues, len(r.Header))
		for k, v := range r.Header {
			out.Header[k] = &pb.HeaderValues{Values: v}
		}
	}
	return out
}

func notificationReqFromPB(r *pb.NotificationRequest) *core.NotificationRequest {
	out := &core.NotificationRequest{Account: r.GetAccount(), Method: r.GetMethod(), Query: r.GetQuery(), Body: r.GetBody(), NotifyPath: r.GetNotifyPath(), Confirm: r.GetConfirm()}
	if len(r.GetHeader()) > 0 {
		out.Header = make(map[string][]string, len(r.GetHeader()))
		for k, v := range r.GetHeader() {
			out.Header[k] = v.GetValues()
		}
	}
	return out
}

func notificationResultToPB(r *core.NotificationResult) *pb.NotificationResult {
	if r == nil {
		return &pb.NotificationResult{}
	}
	out := &pb.NotificationResult{
		Verified: r.Verified, RejectReason: r.RejectReason, DedupeKey: r.DedupeKey, Pending: r.Pending,
		Ack: &pb.Ack{Status: int32(r.Ack.Status), ContentType: r.Ack.ContentType, Body: r.Ack.Body},
	}
	for _, e := range r.Events {
		out.Events = append(out.Events, &pb.NotificationEvent{
			Kind: string(e.Kind), OutTradeNo: e.OutTradeNo, ProviderRef: e.ProviderRef, OutRefundNo: e.OutRefundNo,
			PaymentStatus: string(e.PaymentStatus), RefundStatus: string(e.RefundStatus), Amount: moneyToPB(e.Amount),
			OccurredAt: timeToPB(e.OccurredAt), Wallet: e.Wallet, FailureCode: e.FailureCode, RawStatus: e.RawStatus,
		})
	}
	return out
}

func notificationResultFromPB(r *pb.NotificationResult) *core.NotificationResult {
	out := &core.NotificationResult{
		Verified: r.GetVerified(), RejectReason: r.GetRejectReason(), DedupeKey: r.GetDedupeKey(), Pending: r.GetPending(),
		Ack: core.Ack{Status: int(r.GetAck().GetStatus()), ContentType: r.GetAck().GetContentType(), Body: r.GetAck().GetBody()},
	}
	for _, e := range r.GetEvents() {
		out.Events = append(out.Events, core.NotificationEvent{
			Kind: core.EventKind(e.GetKind()), OutTradeNo: e.GetOutTradeNo(), ProviderRef: e.GetProviderRef(),
			OutRefundNo: e.GetOutRefundNo(), PaymentStatus: core.PaymentStatus(e.GetPaymentStatus()),
			RefundStatus: core.RefundStatus(e.GetRefundStatus()), Amount: moneyFromPB(e.GetAmount()),
			OccurredAt: timeFromPB(e.GetOccurredAt()), Wallet: e.GetWallet(), FailureCode: e.GetFailureCode(),
			RawStatus: e.GetRawStatus(),
		})
	}
	return out
}

func paymentStateToPB(s *core.PaymentState) *pb.PaymentState {
	if s == nil {
		return &pb.PaymentState{}
	}
	return &pb.PaymentState{Status: string(s.Status), ProviderRef: s.ProviderRef, Amount: moneyToPB(s.Amount), PaidAt: timeToPB(s.PaidAt), RawStatus: s.RawStatus}
}

func paymentStateFromPB(s *pb.PaymentState) *core.PaymentState {
	return &core.PaymentState{Status: core.PaymentStatus(s.GetStatus()), ProviderRef: s.GetProviderRef(), Amount: moneyFromPB(s.GetAmount()), PaidAt: timeFromPB(s.GetPaidAt()), RawStatus: s.GetRawStatus()}
}

func refundReqToPB(r *core.RefundRequest) *pb.RefundRequest {
	return &pb.RefundRequest{
		Account: r.Account, OutTradeNo: r.OutTradeNo, ProviderRef: r.ProviderRef, OutRefundNo: r.OutRefundNo,
		Amount: moneyToPB(r.Amount), PaymentAmount: moneyToPB(r.PaymentAmount), Reason: r.Reason, NotifyUrl: r.NotifyURL,
	}
}

func refundReqFromPB(r *pb.RefundRequest) *core.RefundRequest {
	return &core.RefundRequest{
		Account: r.GetAccount(), OutTradeNo: r.GetOutTradeNo(), ProviderRef: r.GetProviderRef(), OutRefundNo: r.GetOutRefundNo(),
		Amount: moneyFromPB(r.GetAmount()), PaymentAmount: moneyFromPB(r.GetPaymentAmount()), Reason: r.GetReason(), NotifyURL: r.GetNotifyUrl(),
	}
}

func refundStateToPB(s *core.RefundState) *pb.RefundState {
	if s == nil {
		return &pb.RefundState{}
	}
	return &pb.RefundState{Status: string(s.Status), ProviderRef: s.ProviderRef, Amount: moneyToPB(s.Amount), FailureCode: s.FailureCode, RawStatus: s.RawStatus}
}

func refundStateFromPB(s *pb.RefundState) *core.RefundState {
	return &core.RefundState{Status: core.RefundStatus(s.GetStatus()), ProviderRef: s.GetProviderRef(), Amount: moneyFromPB(s.GetAmount()), FailureCode: s.GetFailureCode(), RawStatus: s.GetRawStatus()}
}

func settlementReqToPB(r *core.SettlementRequest) *pb.SettlementRequest {
	return &pb.SettlementRequest{Account: r.Account, From: timeToPB(r.From), To: timeToPB(r.To)}
}

func settlementReqFromPB(r *pb.SettlementRequest) *core.SettlementRequest {
	return &core.SettlementRequest{Account: r.GetAccount(), From: timeFromPB(r.GetFrom()), To: timeFromPB(r.GetTo())}
}

func settlementRecordToPB(r *core.SettlementRecord) *pb.SettlementRecord {
	return &pb.SettlementRecord{
		Kind: string(r.Kind), Reference: r.Reference, OrigRef: r.OrigRef, ProviderRef: r.ProviderRef,
		Amount: moneyToPB(r.Amount), Fee: moneyToPB(r.Fee), OccurredAt: timeToPB(r.OccurredAt),
		SettledAt: timeToPB(r.SettledAt), Status: r.Status, Wallet: r.Wallet,
	}
}

func settlementRecordFromPB(r *pb.SettlementRecord) *core.SettlementRecord {
	return &core.SettlementRecord{
		Kind: core.EventKind(r.GetKind()), Reference: r.GetReference(), OrigRef: r.GetOrigRef(), ProviderRef: r.GetProviderRef(),
		Amount: moneyFromPB(r.GetAmount()), Fee: moneyFromPB(r.GetFee()), OccurredAt: timeFromPB(r.GetOccurredAt()),
		SettledAt: timeFromPB(r.GetSettledAt()), Status: r.GetStatus(), Wallet: r.GetWallet(),
	}
}
