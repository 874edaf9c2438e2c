package core

import (
	"errors"
	"fmt"
	"io"
	"testing"
)

func TestErrorHelpers(t *testing.T) {
	secret := errors.New("dial tcp 10.0.0.1: key=abc123")
	wrapped := WrapError(EUNAVAILABLE, secret, "gateway %s unreachable", "mapi")
	coded := &Error{Code: EDECLINED, Message: "refund refused", ProviderCode: "RETURN_AMOUNT_EXCEED"}
	tests := []struct {
		name             string
		err              error
		code, msg, pcode string
		text             string
	}{
		{"nil", nil, "", "", "", ""},
		{"plain error", io.EOF, EINTERNAL, "internal error", "", "EOF"},
		{"Errorf", Errorf(ENOTFOUND, "payment %q not found", "p1"), ENOTFOUND, `payment "p1" not found`, "", `not_found: payment "p1" not found`},
		{"WrapError keeps detail out of the message", wrapped, EUNAVAILABLE, "gateway mapi unreachable", "", "provider_unavailable: gateway mapi unreachable: dial tcp 10.0.0.1: key=abc123"},
		{"provider code", coded, EDECLINED, "refund refused", "RETURN_AMOUNT_EXCEED", "declined: refund refused (RETURN_AMOUNT_EXCEED)"},
		{"found through fmt wrapping", fmt.Errorf("store: %w", coded), EDECLINED, "refund refused", "RETURN_AMOUNT_EXCEED", "store: declined: refund refused (RETURN_AMOUNT_EXCEED)"},
		{"plain error wrapping a coded one", fmt.Errorf("x: %w", Errorf(ECONFLICT, "busy")), ECONFLICT, "busy", "", "x: conflict: busy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ErrorCode(tt.err); got != tt.code {
				t.Errorf("ErrorCode = %q, want %q", got, tt.code)
			}
			if got := ErrorMessage(tt.err); got != tt.msg {
				t.Errorf("ErrorMessage = %q, want %q", got, tt.msg)
			}
			if got := ProviderCode(tt.err); got != tt.pcode {
				t.Errorf("ProviderCode = %q, want %q", got, tt.pcode)
			}
			if tt.err != nil && tt.err.Error() != tt.text {
				t.Errorf("Error() = %q, want %q", tt.err.Error(), tt.text)
			}
		})
	}
	if !errors.Is(wrapped, secret) {
		t.Error("WrapError does not unwrap to the cause")
	}
}

func TestErrorCodesDistinct(t *testing.T) {
	codes := []string{EINVALID, ENOTFOUND, ECONFLICT, EUNAUTHORIZED, EDECLINED, EUNAVAILABLE, EUNKNOWN, EUNSUPPORTED, ECONFIG, EINTERNAL}
	seen := map[string]bool{}
	for _, c := range codes {
		if c == "" || seen[c] {
			t.Errorf("code %q empty or repeated", c)
		}
		seen[c] = true
	}
}
