// Package webhook signs the events paymux POSTs to a merchant's webhook URL and verifies them.
// Merchants (and paymux's own tests) call Verify on every delivery before trusting its body.
//
// The signature header has the form
//
//	Paymux-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" keyed with the secret>
//
// Several v1 entries may appear (for example while a secret is rotated); a delivery is genuine
// when any one of them matches.
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Header is the name of the HTTP header that carries the signature.
const Header = "Paymux-Signature"

// DefaultTolerance is how far a delivery's timestamp may be from now before Verify refuses it,
// to limit replays of a captured delivery.
const DefaultTolerance = 5 * time.Minute

// Errors returned by Verify. They name no secret and no expected signature.
var (
	ErrNoSignature  = errors.New("webhook: missing or malformed " + Header + " header")
	ErrBadSignature = errors.New("webhook: no signature matches the body")
	ErrTooOld       = errors.New("webhook: timestamp outside the tolerance")
)

// Sign returns the Paymux-Signature header value for body sent at t.
func Sign(secret []byte, t time.Time, body []byte) string { return SignAll([][]byte{secret}, t, body) }

// SignAll returns the Paymux-Signature header value for body sent at t with one v1 signature
// per secret, in order: while an endpoint's secret is rotated every current secret signs, so a
// receiver holding either the old or the new one accepts the delivery.
func SignAll(secrets [][]byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	var b strings.Builder
	b.WriteString("t=" + ts)
	for _, s := range secrets {
		b.WriteString(",v1=" + hex.EncodeToString(mac(s, ts, body)))
	}
	return b.String()
}

func mac(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks header (the Paymux-Signature value) against body with secret. A tolerance of 0
// means DefaultTolerance; a negative tolerance disables the timestamp check (for replaying
// stored deliveries in tests). The comparison is constant time.
func Verify(secret, header string, body []byte, tolerance time.Duration) error {
	return verifyAt(time.Now(), []byte(secret), header, body, tolerance)
}

// VerifyAny is Verify for a receiver that holds several secrets (during its own rotation): the
// delivery is genuine when it verifies with any of them. Errors as Verify's.
func VerifyAny(secrets []string, header string, body []byte, tolerance time.Duration) error {
	err := ErrBadSignature
	for _, s := range secrets {
		if err = Verify(s, header, body, tolerance); err == nil || !errors.Is(err, ErrBadSignature) {
			return err
		}
	}
	return err
}

func verifyAt(now time.Time, secret []byte, header string, body []byte, tolerance time.Duration) error {
	ts, sigs, err := parseHeader(header)
	if err != nil {
		return err
	}
	if tolerance == 0 {
		tolerance = DefaultTolerance
	}
	if tolerance > 0 {
		sec, err := strconv.ParseInt(ts, 10, 64)
		if err != nil {
			return fmt.Errorf("%w: timestamp is not a number", ErrNoSignature)
		}
		d := now.Sub(time.Unix(sec, 0))
		if d < -tolerance || d > tolerance {
			return ErrTooOld
		}
	}
	want := mac(secret, ts, body)
	for _, s := range sigs {
		got, err := hex.DecodeString(s)
		if err != nil {
			continue
		}
		if hmac.Equal(got, want) {
			return nil
		}
	}
	return ErrBadSignature
}

// parseHeader splits "t=...,v1=...[,v1=...]". Unknown schemes are ignored so that a future v2
// can be added beside v1 without breaking old verifiers.
func parseHeader(h string) (ts string, v1 []string, err error) {
	if len(h) > 4096 {
		return "", nil, ErrNoSignature
	}
	for _, part := range strings.Split(h, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		switch k {
		case "t":
			if ts != "" {
				return "", nil, fmt.Errorf("%w: t given twice", ErrNoSignature)
			}
			ts = v
		case "v1":
			v1 = append(v1, v)
		}
	}
	if ts == "" || len(v1) == 0 {
		return "", nil, ErrNoSignature
	}
	return ts, v1, nil
}
