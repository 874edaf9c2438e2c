package signing

import (
	"crypto"
	"crypto/md5"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/paymux/paymux/core"
)

// SignType is the mapi `sign_type` value.
type SignType string

const (
	RSA  SignType = "RSA"  // SHA1withRSA, PKCS#1 v1.5, base64
	RSA2 SignType = "RSA2" // SHA256withRSA, PKCS#1 v1.5, base64
	MD5  SignType = "MD5"  // lowercase hex md5(content + key)
)

// ParseSignType accepts the sign types paymux supports, in upper case as the protocol sends them.
func ParseSignType(s string) (SignType, error) {
	switch t := SignType(s); t {
	case RSA, RSA2, MD5:
		return t, nil
	}
	return "", core.Errorf(core.EINVALID, "unsupported sign_type %q (want RSA, RSA2 or MD5)", s)
}

// ErrBadSignature is returned (wrapped) by every Verify that rejects a signature.
var ErrBadSignature = core.Errorf(core.EUNAUTHORIZED, "signature does not verify")

// Signer signs canonical strings.
type Signer interface {
	Type() SignType
	Sign(content string) (string, error)
}

// Verifier checks signatures over canonical strings.
type Verifier interface {
	Type() SignType
	Verify(content, sig string) error
}

func hashFor(t SignType) (crypto.Hash, error) {
	switch t {
	case RSA:
		return crypto.SHA1, nil
	case RSA2:
		return crypto.SHA256, nil
	}
	return 0, core.Errorf(core.EINVALID, "sign_type %q is not an RSA type", t)
}

func digest(h crypto.Hash, content string) []byte {
	if h == crypto.SHA1 {
		d := sha1.Sum([]byte(content))
		return d[:]
	}
	d := sha256.Sum256([]byte(content))
	return d[:]
}

type rsaSigner struct {
	t   SignType
	h   crypto.Hash
	key *rsa.PrivateKey
}

// NewRSASigner returns a signer for RSA or RSA2 with a parsed private key (parse once; the key
// keeps its precomputed CRT values).
func NewRSASigner(t SignType, key *rsa.PrivateKey) (Signer, error) {
	h, err := hashFor(t)
	if err != nil {
		return nil, err
	}
	if key == nil {
		return nil, core.Errorf(core.ECONFIG, "no private key")
	}
	return &rsaSigner{t: t, h: h, key: key}, nil
}

func (s *rsaSigner) Type() SignType { return s.t }

func (s *rsaSigner) Sign(content string) (string, error) {
	sig, err := rsa.SignPKCS1v15(rand.Reader, s.key, s.h, digest(s.h, content))
	if err != nil {
		return "", core.WrapError(core.EINTERNAL, err, "rsa signing failed")
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// String keeps key material out of logs even if a signer is printed.
func (s *rsaSigner) String() string { return "signing.Signer(" + string(s.t) + ")" }

type rsaVerifier struct {
	t   SignType
	h   crypto.Hash
	pub *rsa.PublicKey
}

// NewRSAVerifier returns a verifier for RSA or RSA2 signatures made by pub's private key.
func NewRSAVerifier(t SignType, pub *rsa.PublicKey) (Verifier, error) {
	h, err := hashFor(t)
	if err != nil {
		return nil, err
	}
	if pub == nil {
		return nil, core.Errorf(core.ECONFIG, "no public key")
	}
	return &rsaVerifier{t: t, h: h, pub: pub}, nil
}

func (v *rsaVerifier) Type() SignType { return v.t }

func (v *rsaVerifier) Verify(content, sig string) error {
	raw, err := decodeBase64(sig)
	if err != nil {
		// Still ErrBadSignature for errors.Is: callers tell "reject" from "broken" by it.
		return fmt.Errorf("%w (not valid base64)", ErrBadSignature)
	}
	if err := rsa.VerifyPKCS1v15(v.pub, v.h, digest(v.h, content), raw); err != nil {
		return ErrBadSignature
	}
	return nil
}

// decodeBase64 accepts standard base64 with or without padding, tolerating the line breaks and
// spaces some SDKs wrap signatures with (and the '+' that form decoding turns into ' ').
func decodeBase64(s string) ([]byte, error) {
	if strings.ContainsAny(s, " \r\n\t") {
		s = strings.Map(func(r rune) rune {
			switch r {
			case '\r', '\n', '\t':
				return -1
			case ' ':
				return '+'
			}
			return r
		}, s)
	}
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
}

// MD5Key signs and verifies with the merchant's MD5 key. It is both a Signer and a Verifier.
type MD5Key struct{ key string }

// NewMD5 returns an MD5 signer/verifier; the key must not be empty.
func NewMD5(key string) (*MD5Key, error) {
	if key == "" {
		return nil, core.Errorf(core.ECONFIG, "empty MD5 key")
	}
	return &MD5Key{key: key}, nil
}

func (m *MD5Key) Type() SignType { return MD5 }

func (m *MD5Key) sum(content string) string {
	h := md5.New()
	h.Write([]byte(content))
	h.Write([]byte(m.key))
	return hex.EncodeToString(h.Sum(nil))
}

// Sign returns lowercase hex md5(content + key).
func (m *MD5Key) Sign(content string) (string, error) { return m.sum(content), nil }

// Verify compares in constant time; upper-case hex is accepted.
func (m *MD5Key) Verify(content, sig string) error {
	want := m.sum(content)
	if subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(sig))) != 1 {
		return ErrBadSignature
	}
	return nil
}

// String keeps the key out of logs.
func (m *MD5Key) String() string { return "signing.MD5Key([REDACTED])" }

// GoString keeps the key out of %#v.
func (m *MD5Key) GoString() string { return m.String() }
