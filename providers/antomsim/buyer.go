package antomsim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/paymux/paymux/core"
)

// PayAction plays the buyer for tests: it follows the first web hand-off of a next action (a
// redirect, an app link or a QR code that is a URL of this simulator's wallet page) as a browser
// would, and submits decision on the wallet page. A deep link alone is decided directly.
func (s *Sim) PayAction(ctx context.Context, a core.NextAction, d Decision) error {
	all := append([]core.NextAction{a}, a.Fallbacks...)
	for _, x := range all {
		switch x.Type {
		case core.ActionRedirectURL, core.ActionAppLink, core.ActionQRCode:
			if strings.Contains(x.Value, "/antom/") {
				return submit(ctx, x.Value, d)
			}
		}
	}
	for _, x := range all {
		if x.Type == core.ActionDeepLink {
			if u, err := url.Parse(x.Value); err == nil && u.Query().Get("paymentId") != "" {
				return s.Decide(u.Query().Get("paymentId"), d)
			}
		}
	}
	return fmt.Errorf("antomsim: next action %q leads to no simulator wallet page", a.Type)
}

// submit opens a wallet page URL (following the app link's redirect) and posts the decision.
func submit(ctx context.Context, page string, d Decision) error {
	c := &http.Client{}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, page, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("antomsim: wallet page %s: HTTP %d", page, resp.StatusCode)
	}
	final := resp.Request.URL
	final.RawQuery = ""
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	req, err = http.NewRequestWithContext(ctx, http.MethodPost, final.String(), strings.NewReader("decision="+string(d)))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err = c.Do(req)
	if err != nil {
		return err
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther && resp.StatusCode != http.StatusOK {
		return errors.New("antomsim: decision refused: " + strings.TrimSpace(string(b)))
	}
	return nil
}
