package antomsim

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"strconv"
	"strings"
)

// The simulator's own reading and writing of the AMS wire format (antom.md sections 2-3),
// written apart from providers/antom so that each checks the other.

func content(path, clientID, t string, body []byte) []byte {
	return append([]byte("POST "+path+"\n"+clientID+"."+t+"."), body...)
}

func signB64(k *rsa.PrivateKey, c []byte) (string, error) {
	h := sha256.Sum256(c)
	s, err := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, h[:])
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(s), nil
}

// sigHeader is a Signature header value: no spaces, signature last, percent-encoded.
func sigHeader(b64 string) string {
	return "algorithm=RSA256,keyVersion=1,signature=" + url.QueryEscape(b64)
}

// ParseSignature reads a Signature header as leniently as Antom's clients write it: spaces
// after commas, any keyVersion, upper- or lower-case percent escapes, or raw base64. It
// returns the decoded signature bytes.
func ParseSignature(v string) ([]byte, error) {
	i := strings.LastIndex(v, "signature=")
	if i < 0 {
		return nil, errors.New("no signature= part")
	}
	alg := ""
	for _, part := range strings.Split(v[:i], ",") {
		k, val, _ := strings.Cut(strings.TrimSpace(part), "=")
		if k == "algorithm" {
			alg = strings.TrimSpace(val)
		}
	}
	if alg != "RSA256" {
		return nil, errors.New("algorithm is not RSA256")
	}
	raw, err := url.PathUnescape(strings.TrimSpace(v[i+len("signature="):]))
	if err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(raw)
}

func verifySig(pub *rsa.PublicKey, header string, c []byte) error {
	sig, err := ParseSignature(header)
	if err != nil {
		return err
	}
	h := sha256.Sum256(c)
	return rsa.VerifyPKCS1v15(pub, crypto.SHA256, h[:], sig)
}

// Amount is an AMS amount. Value is read from a JSON string or number (the docs ask for
// strings; the Go SDK has sent numbers), always written as a string.
type Amount struct {
	Currency string `json:"currency"`
	Value    int64  `json:"-"`
}

func (a Amount) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Currency string `json:"currency"`
		Value    string `json:"value"`
	}{a.Currency, strconv.FormatInt(a.Value, 10)})
}

func (a *Amount) UnmarshalJSON(b []byte) error {
	var raw struct {
		Currency string          `json:"currency"`
		Value    json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	s := strings.Trim(string(raw.Value), `"`)
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 {
		return errors.New("amount value is not a non-negative integer")
	}
	a.Currency, a.Value = raw.Currency, v
	return nil
}

type result struct {
	ResultCode    string `json:"resultCode"`
	ResultStatus  string `json:"resultStatus"`
	ResultMessage string `json:"resultMessage"`
}

func res(status, code, msg string) result {
	return result{ResultCode: code, ResultStatus: status, ResultMessage: msg}
}

var resSuccess = res("S", "SUCCESS", "success")
