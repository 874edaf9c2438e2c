package antom

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/url"
	"strings"
)

// signContent is what AMS signs: "POST <path>\n<client-id>.<time>.<raw body>" (antom.md 3.2).
func signContent(path, clientID, t string, body []byte) []byte {
	out := make([]byte, 0, len(path)+len(clientID)+len(t)+len(body)+8)
	out = append(out, "POST "...)
	out = append(out, path...)
	out = append(out, '\n')
	out = append(out, clientID...)
	out = append(out, '.')
	out = append(out, t...)
	out = append(out, '.')
	return append(out, body...)
}

// sign returns the URL-encoded base64 SHA256withRSA signature of content, as it goes into the
// Signature header (standard base64, then percent-encoded: %2B %2F %3D).
func sign(k *rsa.PrivateKey, content []byte) (string, error) {
	h := sha256.Sum256(content)
	s, err := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, h[:])
	if err != nil {
		return "", err
	}
	return url.QueryEscape(base64.StdEncoding.EncodeToString(s)), nil
}

// signatureHeader is the value of the Signature header.
func signatureHeader(keyVersion, sig string) string {
	return "algorithm=RSA256,keyVersion=" + keyVersion + ",signature=" + sig
}

var (
	errNoSignature  = errors.New("no signature header")
	errBadSignature = errors.New("signature does not verify")
)

// parsedSignature is a Signature header read leniently: parts split on commas, spaces trimmed,
// the signature being everything after "signature=" (it is percent-encoded, so it holds no
// comma; a raw base64 value may hold '=' padding, which is kept).
type parsedSignature struct {
	algorithm, keyVersion string
	sig                   []byte
}

func parseSignatureHeader(v string) (parsedSignature, error) {
	var p parsedSignature
	v = strings.TrimSpace(v)
	if v == "" {
		return p, errNoSignature
	}
	i := strings.Index(v, "signature=")
	if i < 0 {
		return p, errors.New("signature header has no signature= part")
	}
	raw := strings.TrimSpace(v[i+len("signature="):])
	for _, part := range strings.Split(v[:i], ",") {
		k, val, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch strings.TrimSpace(k) {
		case "algorithm":
			p.algorithm = strings.TrimSpace(val)
		case "keyVersion":
			p.keyVersion = strings.TrimSpace(val)
		}
	}
	if p.algorithm != "RSA256" {
		return p, errors.New("signature algorithm is not RSA256")
	}
	// PathUnescape, not QueryUnescape: a raw '+' of unencoded base64 must stay a '+'.
	dec, err := url.PathUnescape(raw)
	if err != nil {
		return p, errors.New("signature is not percent-encoded base64")
	}
	if p.sig, err = base64.StdEncoding.DecodeString(dec); err != nil {
		return p, errors.New("signature is not base64")
	}
	return p, nil
}

// verify checks a Signature header over content against any of keys (more than one while Antom
// rotates its key).
func verify(keys []*rsa.PublicKey, header string, content []byte) error {
	p, err := parseSignatureHeader(header)
	if err != nil {
		return err
	}
	h := sha256.Sum256(content)
	for _, k := range keys {
		if rsa.VerifyPKCS1v15(k, crypto.SHA256, h[:], p.sig) == nil {
			return nil
		}
	}
	return errBadSignature
}
