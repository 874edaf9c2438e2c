package host

import (
	"context"

	"github.com/paymux/paymux/core"
)

// VerifyNotification asks the account's provider whether raw is authentic, without storing
// anything or applying it. The API uses it for a client that has sent too many notifications
// failing verification: such a client's next notification is checked first and only a
// verified one goes on to HandleNotification (which stores and verifies it as usual), so that
// forged requests over the client's budget cannot grow the inbox while genuine ones are never
// held back. An error means the provider could not decide (unknown account: ENOTFOUND).
func (s *Service) VerifyNotification(ctx context.Context, raw *RawNotification) (bool, error) {
	prov, _, err := s.provider(ctx, raw.Account)
	if err != nil {
		return false, err
	}
	cctx, cancel := s.callCtx(ctx)
	defer cancel()
	res, err := prov.ParseNotification(cctx, &core.NotificationRequest{
		Account: raw.Account, Method: raw.Method, Header: inboxHeaders(raw.Header), Query: raw.Query, Body: raw.Body,
		NotifyPath: s.Settings().notifyPath(raw.Account),
	})
	if err != nil {
		return false, err
	}
	return res.Verified, nil
}
