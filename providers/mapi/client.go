package mapi

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/core/signing"
)

// NewHTTPClient returns the client gateway calls share: bounded dial, TLS and header waits,
// kept-alive connections (one provider process calls one gateway host for many accounts), and no
// redirects (the gateway never redirects a server call; following one would resend a signed
// request elsewhere). Per-call deadlines come from the context.
func NewHTTPClient() *http.Client {
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          64,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   2 * time.Minute, // a backstop; calls carry tighter context deadlines
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// Client calls one account's gateway.
type Client struct {
	S    *Settings
	HTTP *http.Client
	// DefaultCurrency is the currency of amounts in notifications and query answers that carry
	// no currency field: the settlement currency (total_fee and return_amount are always in it;
	// AlipayHK omits the field, its only currency being HKD). "" leaves such amounts zero.
	DefaultCurrency string

	// MaxFileBytes bounds one downloaded file (Download); 0 means DefaultMaxFileBytes. A file
	// service streams, but an answer without end must not run for the whole deadline.
	MaxFileBytes int64

	// OnMD5Key, when set, hears that a server call's MD5 signature was refused by the gateway
	// with md5_key number refused (1-based) and accepted with number used, which later calls now
	// try first: the gateway's key has changed (a rotation). Never the keys themselves.
	OnMD5Key func(op string, refused, used int)
}

// DefaultMaxFileBytes bounds a downloaded file: ten days of a busy merchant's compare file are
// tens of MiB.
const DefaultMaxFileBytes = 512 << 20

// MaxRateLines bounds forex_rate_file, which lists a few dozen currencies and is kept in memory.
const MaxRateLines = 1000

// NewClient returns a client for the account; hc nil means a fresh NewHTTPClient.
func NewClient(s *Settings, hc *http.Client) *Client {
	if hc == nil {
		hc = NewHTTPClient()
	}
	return &Client{S: s, HTTP: hc}
}

// Sign adds partner and _input_charset when absent, then sign and sign_type (Format B). params
// must carry service.
func (c *Client) Sign(params map[string]string) error {
	if params["partner"] == "" {
		params["partner"] = c.S.Partner
	}
	if params["_input_charset"] == "" {
		params["_input_charset"] = c.S.InputCharset
	}
	return c.signWith(params, c.S.Signer)
}

func (c *Client) signWith(params map[string]string, signer signing.Signer) error {
	if signer == nil {
		return core.Errorf(core.ECONFIG, "account has no signing key for %s", c.S.SignType)
	}
	sig, err := signer.Sign(signing.CanonicalB(params))
	if err != nil {
		return err
	}
	params["sign"] = sig
	params["sign_type"] = string(signer.Type())
	return nil
}

// signedAttempts signs params and runs attempt, which posts them and returns the gateway's error
// code when the gateway answered with a refusal (is_success=F), with the error. On an MD5
// account listing several md5_key values, a refusal of the signature (md5_sign_refusal_codes:
// the gateway checked the signature first and did nothing) signs the SAME params again with the
// next listed key and runs attempt again, once per key: the request keeps its out_trade_no or
// out_return_no, so it stays idempotent at the gateway. Nothing else is tried again: not another
// refusal, not a timeout or any unknown outcome. The key that works (the call succeeds, or the
// gateway answers with a business refusal, which comes after the signature check) is tried
// first by every later call until the next reload (the gateway holds one MD5 key: during a rotation the first
// listed key may not be the one it holds yet, or any more).
func (c *Client) signedAttempts(op string, params map[string]string, attempt func() (refused string, err error)) error {
	m := c.S.md5
	if m == nil || c.S.SignType != signing.MD5 || len(m.keys) < 2 || len(m.refusals) == 0 {
		if err := c.Sign(params); err != nil {
			return err
		}
		_, err := attempt()
		return err
	}
	if err := c.Sign(params); err != nil { // partner and _input_charset
		return err
	}
	first := int(m.next.Load())
	var err error
	for n := range len(m.keys) {
		i := (first + n) % len(m.keys)
		if err := c.signWith(params, m.keys[i]); err != nil {
			return err
		}
		var code string
		code, err = attempt()
		refused := code != "" && slices.Contains(m.refusals, code)
		if !refused {
			if i != first && (err == nil || signatureAccepted(code)) &&
				m.next.CompareAndSwap(int32(first), int32(i)) && c.OnMD5Key != nil {
				c.OnMD5Key(op, first+1, i+1)
			}
			return err
		}
	}
	return err
}

// signatureAccepted reports whether a gateway refusal shows that the request's signature was
// accepted: a business answer (a rule, no such trade, a decline, a conflict) comes after the
// signature check; a set-up, permission or unknown answer may come before it.
func signatureAccepted(code string) bool {
	switch ErrorKind(code) {
	case core.EINVALID, core.ENOTFOUND, core.EDECLINED, core.ECONFLICT:
		return true
	}
	return false
}

// RedirectURL signs params (Format B) and returns the gateway URL the buyer's browser opens, as
// for create_forex_trade_wap. Values travel URL-encoded; the signature covers the raw values.
func (c *Client) RedirectURL(params map[string]string) (string, error) {
	if err := c.Sign(params); err != nil {
		return "", err
	}
	return c.S.GatewayURL + "?" + encode(params), nil
}

func encode(params map[string]string) string {
	v := make(url.Values, len(params))
	for k, val := range params {
		if val != "" {
			v.Set(k, val)
		}
	}
	return v.Encode()
}

// post sends a form (signed by the caller) to the gateway under the account's deadline and returns the body.
// op names the call in errors. An HTTP 5xx is EUNKNOWN (the gateway may have acted), another
// non-200 EUNAVAILABLE.
func (c *Client) post(ctx context.Context, op string, params map[string]string) (*http.Response, context.CancelFunc, error) {
	ctx, cancel := context.WithTimeout(ctx, c.S.Timeout)
	// _input_charset also goes into the URL so that the gateway knows the body's charset
	// before it parses it (docs: "if you use POST, specify _input_charset in the request URL").
	u := c.S.GatewayURL + "?_input_charset=" + url.QueryEscape(c.S.InputCharset)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(encode(params)))
	if err != nil {
		cancel()
		return nil, nil, core.WrapError(core.ECONFIG, err, "%s: cannot build the request", op)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset="+c.S.InputCharset)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		cancel()
		return nil, nil, TransportError(op, err)
	}
	if resp.StatusCode != http.StatusOK {
		drain(resp.Body)
		cancel()
		if resp.StatusCode >= 500 {
			return nil, nil, core.Errorf(core.EUNKNOWN, "%s: gateway answered HTTP %d; query later", op, resp.StatusCode)
		}
		return nil, nil, core.Errorf(core.EUNAVAILABLE, "%s: gateway answered HTTP %d", op, resp.StatusCode)
	}
	return resp, cancel, nil
}

func drain(r io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(r, 64<<10))
	_ = r.Close()
}

// Call signs params (which must carry service), posts them and returns the verified XML
// envelope. is_success=F becomes GatewayError; an unreadable, unparsable or badly signed answer
// is EUNKNOWN (the request may have taken effect).
//
// An MD5 account listing several keys signs again with the next when the gateway refuses the
// signature (signedAttempts).
func (c *Client) Call(ctx context.Context, params map[string]string) (*Response, error) {
	op := params["service"]
	var r *Response
	err := c.signedAttempts(op, params, func() (string, error) {
		var err error
		r, err = c.call(ctx, op, params)
		if err != nil && r != nil && !r.Success {
			return r.Error, err
		}
		return "", err
	})
	return r, err
}

func (c *Client) call(ctx context.Context, op string, params map[string]string) (*Response, error) {
	resp, cancel, err := c.post(ctx, op, params)
	if err != nil {
		return nil, err
	}
	defer cancel()
	defer drain(resp.Body)
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	if err != nil {
		return nil, TransportError(op, err)
	}
	r, err := ParseResponse(body)
	if err != nil {
		return nil, core.WrapError(core.EUNKNOWN, err, "%s: unreadable gateway answer; query later", op)
	}
	if err := VerifyResponse(c.S, r, c.S.RequireResponseSign); err != nil {
		return nil, core.WrapError(core.EUNKNOWN, err, "%s: gateway answer is unsigned or its signature does not verify (check %s); nothing applied, query later", op, SetPublicKeyFile)
	}
	if err := CheckAnswerMerchant(c.S, op, r.Fields); err != nil {
		return nil, err
	}
	if !r.Success {
		return r, GatewayError(op, r.Error)
	}
	return r, nil
}

// Download signs params, posts them and streams the plain-text answer of a file service
// (forex_compare_file, forex_liquidation_file, forex_rate_file) to fn line by line, without the
// line end, converted to UTF-8 when the answer declares another charset. An XML envelope instead
// of a file is decoded and returned as GatewayError.
// An MD5 account listing several keys signs again with the next when the gateway refuses the
// signature (signedAttempts; the refusal is an XML envelope, before any line).
func (c *Client) Download(ctx context.Context, params map[string]string, fn func(line string) error) error {
	op := params["service"]
	return c.signedAttempts(op, params, func() (string, error) { return c.download(ctx, op, params, fn) })
}

func (c *Client) download(ctx context.Context, op string, params map[string]string, fn func(line string) error) (string, error) {
	resp, cancel, err := c.post(ctx, op, params)
	if err != nil {
		return "", err
	}
	defer cancel()
	defer drain(resp.Body)
	limit := c.MaxFileBytes
	if limit <= 0 {
		limit = DefaultMaxFileBytes
	}
	capped := &capReader{r: resp.Body, left: limit}
	var body io.Reader = capped
	if _, p, ok := strings.Cut(resp.Header.Get("Content-Type"), "charset="); ok {
		cs := strings.Trim(strings.TrimSpace(strings.Split(p, ";")[0]), `"`)
		if r, err := CharsetReader(cs, body); err == nil {
			body = r
		}
	}
	br := bufio.NewReaderSize(body, 16<<10)
	if head, _ := br.Peek(256); isXML(head) {
		data, err := io.ReadAll(io.LimitReader(br, MaxResponseBytes+1))
		if err != nil {
			return "", TransportError(op, err)
		}
		r, err := ParseResponse(data)
		if err != nil {
			return "", core.WrapError(core.EUNAVAILABLE, err, "%s: unreadable gateway answer", op)
		}
		if !r.Success {
			return r.Error, GatewayError(op, r.Error)
		}
		return "", core.Errorf(core.EUNAVAILABLE, "%s: gateway answered XML instead of a file", op)
	}
	sc := bufio.NewScanner(br)
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for sc.Scan() {
		// The scanner hands out a partial last line before it reports the read error.
		if capped.over {
			break
		}
		if err := fn(strings.TrimRight(sc.Text(), "\r")); err != nil {
			return "", err
		}
	}
	if err := sc.Err(); err != nil || capped.over {
		if capped.over || errors.Is(err, errFileTooLarge) {
			return "", core.Errorf(core.EUNAVAILABLE, "%s: file is larger than %d bytes", op, limit)
		}
		if errors.Is(err, bufio.ErrTooLong) {
			return "", core.Errorf(core.EINVALID, "%s: a line is longer than 64 KiB", op)
		}
		return "", TransportError(op, err)
	}
	return "", nil
}

var errFileTooLarge = errors.New("mapi: file over the size limit")

// capReader fails with errFileTooLarge once more than left bytes were read (io.LimitReader would
// end the file silently and truncate the records).
type capReader struct {
	r    io.Reader
	left int64
	over bool // the limit was passed
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		// One byte more tells a file of exactly the limit from a longer one.
		var one [1]byte
		n, err := c.r.Read(one[:])
		if n > 0 {
			c.over = true
			return 0, errFileTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

func isXML(head []byte) bool {
	s := strings.TrimSpace(string(head))
	s = strings.TrimPrefix(s, "\ufeff")
	return strings.HasPrefix(s, "<?xml") || strings.HasPrefix(s, "<alipay")
}

// NotifyVerify asks the gateway whether notify_id is genuine and unconsumed: the unsigned
// `service=notify_verify&partner=…&notify_id=…` call, whose body is `true`, `false` or `invalid`.
// An error means the gateway could not be asked (the host answers so that the wallet retries).
func (c *Client) NotifyVerify(ctx context.Context, notifyID string) (bool, error) {
	const op = "notify_verify"
	if notifyID == "" {
		return false, nil
	}
	params := map[string]string{"service": op, "partner": c.S.Partner, "notify_id": notifyID}
	resp, cancel, err := c.post(ctx, op, params)
	if err != nil {
		return false, err
	}
	defer cancel()
	defer drain(resp.Body)
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if err != nil {
		return false, TransportError(op, err)
	}
	switch strings.ToLower(strings.TrimSpace(string(body))) {
	case "true":
		return true, nil
	case "false", "invalid":
		return false, nil
	}
	return false, core.Errorf(core.EUNAVAILABLE, "%s: unexpected answer %q", op, truncate(string(body), 40))
}

// truncate shortens outside text for a message to at most n bytes and "...", as valid UTF-8
// (messages cross gRPC, whose strings must be UTF-8).
func truncate(s string, n int) string {
	s = strings.ToValidUTF8(s, "?")
	if len(s) > n {
		return strings.ToValidUTF8(s[:n], "") + "..."
	}
	return s
}

// FormatDate formats a date for start_date/end_date in Beijing time.
func FormatDate(t time.Time) string { return t.In(Beijing).Format(LayoutDate) }

// String keeps keys out of logs.
func (c *Client) String() string { return fmt.Sprintf("mapi.Client(%s)", c.S) }
