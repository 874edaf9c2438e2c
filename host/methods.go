package host

import (
	"context"
	"slices"

	"github.com/paymux/paymux/core"
)

// MethodOption is one payment method a checkout can show.
type MethodOption struct {
	Method   string         `json:"method"`
	Name     string         `json:"name"`
	Channels []core.Channel `json:"channels"`
}

// MethodsRequest is the query of GET /v1/methods. Currency and Amount are optional filters;
// Amount is in minor units of Currency and needs it.
type MethodsRequest struct {
	Region   string
	Currency string
	Amount   int64
}

// Methods lists the methods enabled in a region, in config order, that accept the currency
// and amount (when given). A method whose provider is down is left out and logged, so that one
// broken plugin does not break the checkout.
func (s *Service) Methods(ctx context.Context, req MethodsRequest) ([]MethodOption, error) {
	st := s.Settings()
	methods, ok := st.Regions[req.Region]
	if req.Region == "" {
		return nil, core.ParamErrorf(core.EINVALID, "region", "region is required")
	}
	caller := CallerFrom(ctx)
	if ok && !caller.unrestricted() {
		// A region none of whose methods the key may use does not exist for it.
		ok = slices.ContainsFunc(methods, func(rm RegionMethod) bool { return caller.sees(rm.Account, req.Region) })
	}
	if !ok {
		return nil, core.ParamErrorf(core.EINVALID, "region", "unknown region %q", req.Region)
	}
	if req.Currency != "" && !core.ValidCurrency(req.Currency) {
		return nil, core.ParamErrorf(core.EINVALID, "currency", "unknown currency %q", req.Currency)
	}
	if req.Amount != 0 && req.Currency == "" {
		return nil, core.ParamErrorf(core.EINVALID, "currency", "amount needs currency")
	}
	if req.Amount < 0 {
		return nil, core.ParamErrorf(core.EINVALID, "amount", "amount must be positive")
	}
	out := []MethodOption{}
	seen := map[string]bool{}
	for _, rm := range methods {
		if seen[rm.Method] || !caller.sees(rm.Account, req.Region) {
			continue
		}
		if req.Currency != "" && len(rm.Currencies) > 0 && !contains(rm.Currencies, req.Currency) {
			continue
		}
		_, desc, err := s.provider(ctx, rm.Account)
		if err != nil {
			s.logFor(ctx).Warn("leaving a method out of the checkout: provider unavailable", "method", rm.Method, "account", rm.Account, "error", err)
			continue
		}
		m, ok := desc.Method(rm.Method)
		if !ok {
			s.logFor(ctx).Warn("region enables a method its provider does not declare", "region", req.Region, "method", rm.Method)
			continue
		}
		if req.Currency != "" {
			amount := core.Money{Value: req.Amount, Currency: req.Currency}
			if req.Amount == 0 {
				if !acceptsCurrency(m, req.Currency) {
					continue
				}
			} else if m.CheckAmount(amount) != nil || rm.checkLimits(amount) != nil {
				continue
			}
		}
		seen[rm.Method] = true
		name := m.Name
		if name == "" {
			name = m.ID
		}
		out = append(out, MethodOption{Method: m.ID, Name: name, Channels: append([]core.Channel{}, m.Channels...)})
	}
	return out, nil
}

func acceptsCurrency(m core.Method, currency string) bool {
	if len(m.AmountRules) == 0 {
		return true
	}
	for _, r := range m.AmountRules {
		if r.Currency == currency {
			return true
		}
	}
	return false
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
