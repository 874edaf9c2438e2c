package antom

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/paymux/paymux/core"
)

// maxResponseBytes bounds a gateway answer.
const maxResponseBytes = 1 << 20

// callKind says what a failed call means: a call that may have moved money (pay, refund,
// cancel) is an unknown outcome when it fails midway; a read that fails just did not learn.
type callKind int

const (
	read callKind = iota
	write
)

// undecided is the error of a call whose answer cannot be trusted or did not come.
func undecided(kind callKind, err error, format string, args ...any) *core.Error {
	code := core.EUNAVAILABLE
	if kind == write {
		code = core.EUNKNOWN
	}
	return core.WrapError(code, err, format, args...)
}

// configCodes are result codes that mean the account's settings or keys are wrong.
var configCodes = map[string]bool{
	"INVALID_SIGNATURE": true, "SIGNATURE_INVALID": true, "KEY_NOT_FOUND": true, "INVALID_CLIENT": true,
	"ACCESS_DENIED": true, "INVALID_CLIENT_STATUS": true, "MERCHANT_NOT_REGISTERED": true,
}

// call signs body, posts it to api and, when the answer's signature verifies against Antom's
// key, decodes it into out (which must hold a `result`) and returns that result. Every answer
// that is not a verified HTTP 200 is undecided: an unknown outcome for writes.
func (p *Provider) call(ctx context.Context, a *account, api string, kind callKind, body any, out any, res *result) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(body); err != nil {
		return core.WrapError(core.EINTERNAL, err, "encoding the %s request", api)
	}
	raw := bytes.TrimRight(buf.Bytes(), "\n")
	path := a.path(api)
	reqTime := strconv.FormatInt(p.now().UnixMilli(), 10)
	sig, err := sign(a.key, signContent(path, a.clientID, reqTime, raw))
	if err != nil {
		return core.WrapError(core.EINTERNAL, err, "signing the %s request", api)
	}
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.base+path, bytes.NewReader(raw))
	if err != nil {
		return core.WrapError(core.EINTERNAL, err, "building the %s request", api)
	}
	req.Header.Set("Content-Type", "application/json; charset=UTF-8")
	req.Header.Set("Client-Id", a.clientID)
	req.Header.Set("Request-Time", reqTime)
	req.Header.Set("Signature", signatureHeader(a.keyVersion, sig))
	resp, err := p.http.Do(req)
	if err != nil {
		return undecided(kind, err, "Antom %s: no answer", api)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return undecided(kind, err, "Antom %s: answer cut off", api)
	}
	if len(data) > maxResponseBytes {
		return undecided(kind, nil, "Antom %s: answer larger than %d bytes", api, maxResponseBytes)
	}
	if resp.StatusCode != http.StatusOK {
		return undecided(kind, nil, "Antom %s: HTTP %d", api, resp.StatusCode)
	}
	if err := verifyResponse(a, path, resp.Header, data); err != nil {
		// An unsigned F about our own signature or keys is a configuration error: Antom sends
		// no signature then (antom.md 3.4). It changes nothing, so it is safe to say so.
		var r struct {
			Result result `json:"result"`
		}
		if json.Unmarshal(data, &r) == nil && r.Result.ResultStatus == "F" && configCodes[r.Result.ResultCode] {
			return &core.Error{Code: core.ECONFIG, Message: fmt.Sprintf("Antom %s refused the account's credentials", api), ProviderCode: r.Result.ResultCode}
		}
		return undecided(kind, err, "Antom %s: answer not verified", api)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return undecided(kind, err, "Antom %s: malformed answer", api)
	}
	if res.ResultStatus != "S" && res.ResultStatus != "F" && res.ResultStatus != "U" {
		return undecided(kind, nil, "Antom %s: answer has no result status", api)
	}
	return nil
}

// verifyResponse checks an answer's signature over "POST <path>\n<client-id>.<response-time>.<body>".
// The client id is the account's: an answer naming another merchant is refused.
func verifyResponse(a *account, path string, h http.Header, body []byte) error {
	sig := h.Get("Signature")
	if sig == "" {
		return errNoSignature
	}
	if id := h.Get("Client-Id"); id != "" && id != a.clientID {
		return errors.New("answer names another client id")
	}
	rt := h.Get("Response-Time")
	if rt == "" {
		return errors.New("answer has no response-time")
	}
	return verify(a.antomKeys, sig, signContent(path, a.clientID, rt, body))
}

// failure maps an F result of a write to its error. REPEAT_REQ_INCONSISTENT is a conflict:
// the idempotency key was used before with other key fields.
func failure(api string, r result) *core.Error {
	code := core.EDECLINED
	switch {
	case r.ResultCode == "REPEAT_REQ_INCONSISTENT":
		code = core.ECONFLICT
	case configCodes[r.ResultCode]:
		code = core.ECONFIG
	case r.ResultCode == "PARAM_ILLEGAL" || r.ResultCode == "CURRENCY_NOT_SUPPORT":
		code = core.EINVALID
	case strings.HasSuffix(r.ResultCode, "NOT_EXIST"):
		code = core.ENOTFOUND
	}
	return &core.Error{Code: code, Message: fmt.Sprintf("Antom %s refused: %s", api, r.ResultCode), ProviderCode: r.ResultCode}
}
