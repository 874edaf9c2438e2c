package httpapi

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host"
)

func TestStaticKeys(t *testing.T) {
	sum := sha256.Sum256([]byte("hashed-key-DO-NOT-USE"))
	m := StaticKeys([]string{"plain-key-DO-NOT-USE", "sha256:" + hex.EncodeToString(sum[:]), "sha256:zz"})
	plain, ok := m("plain-key-DO-NOT-USE")
	if !ok {
		t.Fatal("plain key refused")
	}
	hashed, ok := m("hashed-key-DO-NOT-USE")
	if !ok {
		t.Fatal("hashed key refused")
	}
	if plain.KeyID == hashed.KeyID || plain.KeyID == "" {
		t.Fatalf("key ids %q %q must differ and be set", plain.KeyID, hashed.KeyID)
	}
	if !plain.Admin || !hashed.Admin || plain.KeyName != plain.KeyID {
		t.Errorf("a plain api_keys entry must be an administrator named by its id: %+v", plain)
	}
	for _, bad := range []string{"", "plain-key-DO-NOT-USE ", "sha256:" + hex.EncodeToString(sum[:]), "zz"} {
		if _, ok := m(bad); ok {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, ok := StaticKeys(nil)("anything"); ok {
		t.Fatal("empty key set accepts a key")
	}
}

// TestAdminOnly: a route wrapped in adminOnly answers 404 to a scoped key and to no caller at
// all, and runs for an administrator key.
func TestAdminOnly(t *testing.T) {
	a := New(Options{})
	ran := 0
	h := a.adminOnly(func(w http.ResponseWriter, r *http.Request) { ran++; w.WriteHeader(http.StatusNoContent) })
	for _, tt := range []struct {
		caller *host.Caller
		want   int
	}{
		{nil, http.StatusNotFound},
		{&host.Caller{KeyName: "shop", Accounts: []string{"a"}}, http.StatusNotFound},
		{&host.Caller{KeyName: "shop", Regions: []string{"HK"}}, http.StatusNotFound},
		{&host.Caller{KeyName: "ops", Admin: true}, http.StatusNoContent},
	} {
		r := httptest.NewRequest("GET", "/v1/admin-thing", nil)
		if tt.caller != nil {
			r = r.WithContext(host.WithCaller(r.Context(), tt.caller))
		}
		rec := httptest.NewRecorder()
		h(rec, r)
		if rec.Code != tt.want {
			t.Errorf("caller %+v: status %d, want %d", tt.caller, rec.Code, tt.want)
		}
	}
	if ran != 1 {
		t.Errorf("the admin-only handler ran %d times, want 1", ran)
	}
}

func TestStatusOf(t *testing.T) {
	want := map[string]int{
		core.EINVALID: 400, core.EUNAUTHORIZED: 401, core.EDECLINED: 402, core.ENOTFOUND: 404,
		codeForbidden: 403, codeMethodNotAllowed: 405, core.ECONFLICT: 409, codeIdempotencyInUse: 409, codeTooLarge: 413,
		core.EUNSUPPORTED: 422, codeIdempotencyReused: 422, core.EINTERNAL: 500, core.ECONFIG: 500,
		core.EUNAVAILABLE: 503, core.EUNKNOWN: 504, "something-new": 500,
	}
	for code, status := range want {
		if got := statusOf(code); got != status {
			t.Errorf("statusOf(%s) = %d, want %d", code, got, status)
		}
	}
}

func TestErrorJSONHidesInternals(t *testing.T) {
	for _, err := range []error{
		errors.New("open /secret/path: permission denied"),
		core.WrapError(core.ECONFIG, errors.New("key file /k.pem"), "private_key_file /k.pem is unreadable"),
	} {
		status, body := errorJSON(err, "req_1")
		var b errorBody
		if e := json.Unmarshal(body, &b); e != nil {
			t.Fatal(e)
		}
		if status != http.StatusInternalServerError || b.Error.Message != "internal error; quote the request id to the operator" || b.Error.RequestID != "req_1" {
			t.Fatalf("%d %s", status, body)
		}
	}
	_, body := errorJSON(&core.Error{Code: core.EDECLINED, Message: "refund declined", ProviderCode: "RETURN_AMOUNT_EXCEED", Err: errors.New("gateway body")}, "r")
	if string(body) != `{"error":{"code":"declined","message":"refund declined","provider_code":"RETURN_AMOUNT_EXCEED","request_id":"r"}}`+"\n" {
		t.Fatalf("declined body = %s", body)
	}
}

func TestValidRequestID(t *testing.T) {
	for s, ok := range map[string]bool{"abc-123_x.y": true, "": false, "a b": false, "a\nb": false, string(make([]byte, 65)): false} {
		if validRequestID(s) != ok {
			t.Errorf("validRequestID(%q) = %v", s, !ok)
		}
	}
}

// FuzzDecodeCreatePayment feeds arbitrary bodies to the strict decoder the API uses for
// POST /v1/payments: it must never panic, and what it accepts must encode again.
func FuzzDecodeCreatePayment(f *testing.F) {
	f.Add([]byte(`{"region":"HK","method":"alipayhk","amount":{"value":100,"currency":"HKD"},"subject":"s","channel":"app"}`))
	f.Add([]byte(`{"amount":{"value":1e99}}`))
	f.Add([]byte(`{} {}`))
	f.Add([]byte(`{"provider_extras":{"a":"b"},"bogus":1}`))
	f.Add([]byte(``))
	f.Add([]byte(`{"region":"HK","Region":"SG","amount":{"value":1,"value":2}}`))
	f.Add([]byte(`{"provider_extras":{"a\u0041":"1","aA":"2"},"amount":{"currency":"HKD"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var req host.CreatePaymentRequest
		if err := decode(body, &req); err != nil {
			if core.ErrorCode(err) != core.EINVALID {
				t.Fatalf("decode error code %s", core.ErrorCode(err))
			}
			return
		}
		if _, err := json.Marshal(&req); err != nil {
			t.Fatal(err)
		}
	})
}
