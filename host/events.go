package host

import (
	"bytes"
	"context"
	"encoding/json"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host/store"
	"github.com/paymux/paymux/host/webhook"
)

// emit writes an outbox event inside tx, so that it commits with the state change it reports.
// region is the region of the payment it is about ("" when none); the API key of ctx, if any, is
// recorded as the event's actor.
func emit(ctx context.Context, tx store.Queries, typ, account, region, paymentID, refundID string, data any) error {
	payload, err := marshalJSON(data)
	if err != nil {
		return core.WrapError(core.EINTERNAL, err, "encoding event")
	}
	e := &store.Event{
		ID: store.NewID("evt_"), Type: typ, Account: account, Region: region, PaymentID: paymentID, RefundID: refundID,
		Actor: CallerFrom(ctx).actor(), Payload: payload,
	}
	if err := tx.InsertEvent(ctx, e); err != nil {
		return core.WrapError(core.EINTERNAL, err, "recording event %s", typ)
	}
	return nil
}

// paymentEventType is the event for a payment reaching status s, "" when none.
func paymentEventType(s core.PaymentStatus) string {
	switch s {
	case core.PaymentSucceeded:
		return webhook.PaymentSucceeded
	case core.PaymentClosed:
		return webhook.PaymentClosed
	case core.PaymentFailed:
		return webhook.PaymentFailed
	}
	return ""
}

// refundEventType is the event for a refund reaching status s, "" when none.
func refundEventType(s core.RefundStatus) string {
	switch s {
	case core.RefundSucceeded:
		return webhook.RefundSucceeded
	case core.RefundFailed:
		return webhook.RefundFailed
	}
	return ""
}

// EventBody renders the webhook body of a stored event. It depends only on stored fields, so
// every redelivery of one event sends the same bytes.
func EventBody(e *store.Event) ([]byte, error) {
	return marshalJSON(webhook.Event{ID: e.ID, Type: e.Type, CreatedAt: e.CreatedAt.UTC().Truncate(time.Microsecond), Data: e.Payload})
}

// marshalJSON is json.Marshal without Go's HTML escaping ("&" stays "&", not "\u0026"), as the
// REST API writes its JSON: an event's data in a webhook and in GET /v1/events carries the same
// bytes as the payment in GET /v1/payments/{id}.
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// ListEvents lists the outbox events the caller may see, newest first.
func (s *Service) ListEvents(ctx context.Context, f store.EventFilter) (*Page[*Event], error) {
	if f.Limit > store.MaxPageSize {
		f.Limit = store.MaxPageSize
	}
	caller := CallerFrom(ctx)
	f.Accounts, f.Regions = caller.accountsFilter(), caller.regionsFilter()
	evs, next, err := s.store.ListEvents(ctx, f)
	if err != nil {
		return nil, err
	}
	page := &Page[*Event]{Data: make([]*Event, 0, len(evs)), NextCursor: next}
	for _, e := range evs {
		page.Data = append(page.Data, eventView(e))
	}
	return page, nil
}

// RedeliverEvent puts an event back in the queue, due now, whatever its state.
func (s *Service) RedeliverEvent(ctx context.Context, id string) (*Event, error) {
	if c := CallerFrom(ctx); !c.unrestricted() {
		e, err := s.store.GetEvent(ctx, id)
		if err != nil {
			return nil, err
		}
		if !c.sees(e.Account, e.Region) {
			return nil, core.Errorf(core.ENOTFOUND, "event %s not found", id)
		}
	}
	e, err := s.store.RedeliverEvent(ctx, id, s.now())
	if err != nil {
		return nil, err
	}
	return eventView(e), nil
}
