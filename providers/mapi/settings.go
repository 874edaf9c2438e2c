package mapi

import (
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"io/fs"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/core/notify"
	"github.com/paymux/paymux/core/signing"
)

// Names of the account settings every mapi provider understands.
const (
	SetPartner         = "partner"
	SetSellerID        = "seller_id"
	SetGatewayURL      = "gateway_url"
	SetSignType        = "sign_type"
	SetPrivateKeyFile  = "private_key_file"
	SetPublicKeyFile   = "alipay_public_key_file"
	SetMD5Key          = "md5_key"
	SetNotifyVerify    = "notify_verify"
	SetInputCharset    = "input_charset"
	SetTimeout         = "timeout"
	SetRequireRespSign = "require_response_sign"
	SetAckBody         = "ack_body"
	SetAcceptSignTypes = "accept_sign_types"
	// Key rotation without a restart (issue 17).
	SetNextPrivateKeyFile = "next_private_key_file"  // the merchant key that replaces private_key_file
	SetSigningKey         = "signing_key"            // which merchant key signs: current (default) or next
	SetMD5SigningKey      = "md5_signing_key"        // which md5_key signs pages and is tried first: its position, 1 (default) for the first
	SetMD5SignRefusals    = "md5_sign_refusal_codes" // gateway codes that refuse a request's MD5 signature: signed again with the next md5_key
	SetAllowInsecure      = "allow_insecure_gateway"
)

// falseValues are the values ParseBool reads as false: a boolean setting whose default is the
// strict true is loosened by any of them.
var falseValues = []string{"false", "no", "n", "off", "0", "f"}

// DefaultTimeout bounds one gateway call when the account sets no timeout.
const DefaultTimeout = 15 * time.Second

// CommonSettings describes the settings ParseSettings reads, for a provider's Describe.
func CommonSettings() []core.Setting {
	return []core.Setting{
		{Name: SetPartner, Required: true, Description: "Alipay partner id (PID): 16 digits starting with 2088"},
		{Name: SetSellerID, Description: "seller account; defaults to partner"},
		{Name: SetGatewayURL, Required: true, Description: "gateway.do URL, e.g. https://intlmapi.alipay.com/gateway.do; http:// only for a loopback host or with allow_insecure_gateway"},
		{Name: SetSignType, Required: true, Description: "RSA (SHA1withRSA), RSA2 (SHA256withRSA) or MD5"},
		{Name: SetPrivateKeyFile, Secret: true, Description: "merchant RSA private key (PEM or bare base64), a file path or the key itself; required for RSA and RSA2"},
		{Name: SetPublicKeyFile, Description: "Alipay RSA public key (PEM or bare base64), a file path or the key itself; required for RSA and RSA2. Several PEM blocks: a notification or answer verifies with any of them (an Alipay key rotation)"},
		{Name: SetMD5Key, Secret: true, Description: "MD5 key from the merchant portal; required for MD5. Several keys separated by commas (a key rotation): any verifies; the one md5_signing_key names (the first by default) signs, and a server call whose signature the gateway refuses is signed again with the next"},
		{Name: SetNextPrivateKeyFile, Secret: true, Description: "a second merchant RSA private key, for a rotation: it signs when signing_key is next"},
		{Name: SetSigningKey, Description: "the merchant key that signs requests: current (private_key_file, default) or next (next_private_key_file)"},
		{Name: SetMD5SigningKey, Description: "the md5_key that signs the payment pages (and that server calls try first), by its position in md5_key: 1 (default) for the first. During an MD5 rotation keep it on the key the gateway holds and move it once the portal has switched"},
		{Name: SetMD5SignRefusals, Description: "gateway error codes that mean a server call's MD5 signature was refused and nothing was done, comma-separated (default ILLEGAL_SIGN; none: off): such a call is signed again with the next md5_key, once per key, and the key that works is tried first until the next reload. Only codes catalogued as key or set-up errors, or not catalogued at all, are allowed"},
		{Name: SetNotifyVerify, Loosening: falseValues, Description: "true (default): call notify_verify for every notification, which also binds one that names no merchant to this partner; false binds such a notification by a single_trade_query of its trade instead (logged as a warning)"},
		{Name: SetInputCharset, Description: "value of _input_charset (default UTF-8)"},
		{Name: SetTimeout, Description: "deadline of one gateway call, e.g. 15s (default 15s)"},
		{Name: SetAckBody, Description: "body that acknowledges a notification: success (default) or SUCCESS (the docs and the SDKs disagree)"},
		{Name: SetRequireRespSign, Loosening: falseValues, Description: "true (default): a gateway answer that carries data but no <sign> is an unknown outcome, never applied; false only verifies signatures that are present (logged as a warning)"},
		{Name: SetAcceptSignTypes, Description: "sign types accepted on notifications, returns and gateway answers, comma-separated, within the family of sign_type (default: RSA and RSA2 for an RSA or RSA2 account, both verified with the Alipay public key; MD5 for an MD5 account). A message declaring a type of the other family is refused, so that nobody can downgrade an RSA account to MD5"},
		{Name: SetAllowInsecure, Loosening: []string{"true", "yes", "y", "on", "1", "t"}, Description: "true: allow an http:// gateway_url on a host that is not loopback (simulators on other hosts; logged as a warning). Default false"},
	}
}

// SettingNames returns the names of the described settings, for the extra names ParseSettings
// accepts: a provider describes its own settings once and derives the list from that.
func SettingNames(described ...[]core.Setting) []string {
	var out []string
	for _, list := range described {
		for _, s := range list {
			out = append(out, s.Name)
		}
	}
	return out
}

// Settings are an account's parsed mapi settings. They hold keys: never print them (String
// redacts).
type Settings struct {
	Partner      string
	SellerID     string
	GatewayURL   string
	SignType     signing.SignType
	InputCharset string
	NotifyVerify bool
	Timeout      time.Duration
	// RequireResponseSign rejects XML answers to signed services that carry a <response> but no
	// <sign> (the default: an unsigned answer is an unknown outcome, never applied).
	RequireResponseSign bool
	// AllowInsecureGateway allows an http:// gateway on a host that is not loopback.
	AllowInsecureGateway bool
	Signer               signing.Signer                        // signs requests with SignType
	Verifiers            map[signing.SignType]signing.Verifier // by the sign_type a message declares
	// Accepted are the sign types a notification, return or gateway answer may declare: the
	// family of SignType (RSA and RSA2, or MD5), narrowed by accept_sign_types. A message may
	// not pick the other family just because the account also has a key for it.
	Accepted []signing.SignType
	// Ack is the answer that stops redelivery of a notification.
	Ack core.Ack
	// Warnings are non-fatal findings (weak keys, loosened defaults) for the provider to log.
	Warnings []string

	privateKey *rsa.PrivateKey // the merchant key signing_key names; nil for MD5 accounts without one
	md5        *md5Keys        // the md5_key list; nil without md5_key
}

// md5Keys are an account's listed MD5 keys during a rotation. The gateway holds exactly one MD5
// key, so a server call refused for its signature is signed again with another listed key
// (Client.signedAttempts); next remembers the key that worked last, for every later call of
// this configuration (a reload starts again from md5_signing_key).
type md5Keys struct {
	keys     []*signing.MD5Key
	signing  int          // md5_signing_key - 1: signs pages, order strings and, first, server calls
	refusals []string     // md5_sign_refusal_codes
	next     atomic.Int32 // the key server calls try first
}

// String keeps secrets out of logs.
func (s *Settings) String() string {
	return "mapi.Settings{partner=" + s.Partner + " sign_type=" + string(s.SignType) + " gateway=" + s.GatewayURL + "}"
}

// Verifier returns the verifier for a message's declared sign type, which must be one the account
// accepts (Accepted): an attacker must not make an RSA account check MD5.
func (s *Settings) Verifier(t string) (signing.Verifier, error) {
	st, err := signing.ParseSignType(t)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(s.Accepted, st) {
		return nil, core.Errorf(core.EUNAUTHORIZED, "sign_type %s is not accepted for this account (setting %s)", st, SetAcceptSignTypes)
	}
	return s.verifierFor(st)
}

// ClientResultVerifier returns the verifier for the sign type of the wallet SDK's synchronous
// result: Alipay signs it with its RSA key (SHA1withRSA; "RSA2 cannot be used for synchronous
// notification verification"), whatever the account's server sign type, so RSA and RSA2 are
// taken with the account's Alipay public key; MD5 only when the account accepts MD5.
func (s *Settings) ClientResultVerifier(t string) (signing.Verifier, error) {
	st, err := signing.ParseSignType(t)
	if err != nil {
		return nil, err
	}
	if st == signing.MD5 && !slices.Contains(s.Accepted, st) {
		return nil, core.Errorf(core.EUNAUTHORIZED, "sign_type %s is not accepted for this account (setting %s)", st, SetAcceptSignTypes)
	}
	return s.verifierFor(st)
}

func (s *Settings) verifierFor(st signing.SignType) (signing.Verifier, error) {
	v, ok := s.Verifiers[st]
	if !ok {
		return nil, core.Errorf(core.EUNAUTHORIZED, "sign_type %s is not configured for this account", st)
	}
	return v, nil
}

// ParseSettings validates the common mapi settings. Keys that are neither common nor listed in
// extra are an ECONFIG error naming them (a typo must not silently fall back to a default). Error
// messages name the setting and never its secret value.
func ParseSettings(raw map[string]string, extra ...string) (*Settings, error) {
	var unknown []string
	for k := range raw {
		if !isCommon(k) && !slices.Contains(extra, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return nil, core.Errorf(core.ECONFIG, "unknown setting(s): %s", strings.Join(unknown, ", "))
	}
	s := &Settings{
		Partner:      strings.TrimSpace(raw[SetPartner]),
		SellerID:     strings.TrimSpace(raw[SetSellerID]),
		GatewayURL:   strings.TrimSpace(raw[SetGatewayURL]),
		InputCharset: strings.TrimSpace(raw[SetInputCharset]),
		Timeout:      DefaultTimeout,
		Verifiers:    map[signing.SignType]signing.Verifier{},
	}
	if !validPartner(s.Partner) {
		return nil, core.Errorf(core.ECONFIG, "setting %s must be 16 digits starting with 2088, got %q", SetPartner, s.Partner)
	}
	if s.SellerID == "" {
		s.SellerID = s.Partner
	}
	var err error
	if s.AllowInsecureGateway, err = ParseBool(raw, SetAllowInsecure, false); err != nil {
		return nil, err
	}
	if err := checkGateway(s.GatewayURL, s.AllowInsecureGateway); err != nil {
		return nil, err
	}
	if s.InputCharset == "" {
		s.InputCharset = "UTF-8"
	} else if !strings.EqualFold(s.InputCharset, "utf-8") {
		return nil, core.Errorf(core.ECONFIG, "setting %s must be UTF-8 (paymux signs UTF-8 bytes), got %q", SetInputCharset, s.InputCharset)
	}
	if s.NotifyVerify, err = ParseBool(raw, SetNotifyVerify, true); err != nil {
		return nil, err
	}
	if !s.NotifyVerify {
		s.Warnings = append(s.Warnings, SetNotifyVerify+" is off: notifications are not confirmed with the gateway; one that names no merchant is bound by a single_trade_query of its trade")
	}
	if s.RequireResponseSign, err = ParseBool(raw, SetRequireRespSign, true); err != nil {
		return nil, err
	}
	if !s.RequireResponseSign {
		s.Warnings = append(s.Warnings, SetRequireRespSign+" is off: unsigned gateway answers are applied")
	}
	if s.AllowInsecureGateway && strings.HasPrefix(strings.ToLower(s.GatewayURL), "http://") {
		s.Warnings = append(s.Warnings, SetAllowInsecure+" is on: the gateway is called over plain http")
	}
	ackBody, err := ParseEnum(raw, SetAckBody, "success", "success", "SUCCESS")
	if err != nil {
		return nil, err
	}
	s.Ack = notify.AckSuccess
	s.Ack.Body = []byte(ackBody)
	if v := strings.TrimSpace(raw[SetTimeout]); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 || d > 5*time.Minute {
			return nil, core.Errorf(core.ECONFIG, "setting %s must be a duration between 0 and 5m, got %q", SetTimeout, v)
		}
		s.Timeout = d
	}
	st := strings.TrimSpace(raw[SetSignType])
	if st == "" {
		return nil, core.Errorf(core.ECONFIG, "setting %s is required (RSA, RSA2 or MD5)", SetSignType)
	}
	if s.SignType, err = signing.ParseSignType(st); err != nil {
		return nil, core.Errorf(core.ECONFIG, "setting %s: %s", SetSignType, core.ErrorMessage(err))
	}
	if err := s.loadKeys(raw); err != nil {
		return nil, err
	}
	if s.Accepted, err = s.parseAccepted(raw[SetAcceptSignTypes]); err != nil {
		return nil, err
	}
	return s, nil
}

// SignFamily returns the sign types of t's family: RSA and RSA2 (both verified with the Alipay
// public key) for either of them, MD5 for MD5. A message may declare any type of its account's
// family, never one of the other (a downgrade from RSA to MD5, or the reverse).
func SignFamily(t signing.SignType) []signing.SignType {
	if t == signing.MD5 {
		return []signing.SignType{signing.MD5}
	}
	return []signing.SignType{signing.RSA, signing.RSA2}
}

// parseAccepted reads accept_sign_types: "" is the family of the account's sign type; a list
// narrows it and must name types of that family the account has keys for.
func (s *Settings) parseAccepted(v string) ([]signing.SignType, error) {
	family := SignFamily(s.SignType)
	if strings.TrimSpace(v) == "" {
		return family, nil
	}
	var out []signing.SignType
	for _, part := range strings.Split(v, ",") {
		st, err := signing.ParseSignType(strings.TrimSpace(part))
		if err != nil {
			return nil, core.Errorf(core.ECONFIG, "setting %s: %s", SetAcceptSignTypes, core.ErrorMessage(err))
		}
		if !slices.Contains(family, st) {
			return nil, core.Errorf(core.ECONFIG, "setting %s names %s, which is not of the family of %s %s (RSA and RSA2, or MD5): a message may not change the family", SetAcceptSignTypes, st, SetSignType, s.SignType)
		}
		if _, ok := s.Verifiers[st]; !ok {
			return nil, core.Errorf(core.ECONFIG, "setting %s names %s but the account has no key to verify it", SetAcceptSignTypes, st)
		}
		if !slices.Contains(out, st) {
			out = append(out, st)
		}
	}
	return out, nil
}

func (s *Settings) loadKeys(raw map[string]string) error {
	privRaw, pubRaw, md5Raw := raw[SetPrivateKeyFile], raw[SetPublicKeyFile], raw[SetMD5Key]
	signingKey := strings.TrimSpace(raw[SetSigningKey])
	switch signingKey {
	case "", "current":
	case "next":
		if strings.TrimSpace(raw[SetNextPrivateKeyFile]) == "" {
			return core.Errorf(core.ECONFIG, "setting %s is next but %s is not set", SetSigningKey, SetNextPrivateKeyFile)
		}
		privRaw = raw[SetNextPrivateKeyFile]
	default:
		return core.Errorf(core.ECONFIG, "setting %s must be current or next", SetSigningKey)
	}
	if strings.TrimSpace(md5Raw) != "" {
		var keys []signing.Verifier
		m5 := &md5Keys{}
		for i, k := range strings.Split(md5Raw, ",") {
			m, err := signing.NewMD5(strings.TrimSpace(k))
			if err != nil {
				return core.Errorf(core.ECONFIG, "setting %s (key %d): %s", SetMD5Key, i+1, core.ErrorMessage(err))
			}
			keys = append(keys, m)
			m5.keys = append(m5.keys, m)
		}
		var err error
		if m5.signing, err = parseMD5SigningKey(raw[SetMD5SigningKey], len(m5.keys)); err != nil {
			return err
		}
		if m5.refusals, err = parseSignRefusals(raw[SetMD5SignRefusals]); err != nil {
			return err
		}
		m5.next.Store(int32(m5.signing))
		s.md5 = m5
		if s.SignType == signing.MD5 {
			s.Signer = m5.keys[m5.signing]
		}
		s.Verifiers[signing.MD5] = anyVerifier(keys)
	} else if s.SignType == signing.MD5 {
		return core.Errorf(core.ECONFIG, "setting %s is required when %s is MD5", SetMD5Key, SetSignType)
	} else if strings.TrimSpace(raw[SetMD5SigningKey]) != "" {
		return core.Errorf(core.ECONFIG, "setting %s is set but %s is not", SetMD5SigningKey, SetMD5Key)
	}
	if strings.TrimSpace(pubRaw) != "" {
		data, err := keyMaterial(SetPublicKeyFile, pubRaw)
		if err != nil {
			return err
		}
		byType := map[signing.SignType][]signing.Verifier{}
		for i, block := range keyBlocks(data) {
			pub, err := signing.ParsePublicKey(block)
			if err != nil {
				return core.Errorf(core.ECONFIG, "setting %s (key %d): %s", SetPublicKeyFile, i+1, core.ErrorMessage(err))
			}
			if w := signing.KeyWarning(pub.N.BitLen()); w != "" {
				s.Warnings = append(s.Warnings, SetPublicKeyFile+": "+w)
			}
			for _, t := range []signing.SignType{signing.RSA, signing.RSA2} {
				v, err := signing.NewRSAVerifier(t, pub)
				if err != nil {
					return err
				}
				byType[t] = append(byType[t], v)
			}
		}
		for t, vs := range byType {
			s.Verifiers[t] = anyVerifier(vs)
		}
	} else if s.SignType != signing.MD5 {
		return core.Errorf(core.ECONFIG, "setting %s is required when %s is %s", SetPublicKeyFile, SetSignType, s.SignType)
	}
	if strings.TrimSpace(raw[SetNextPrivateKeyFile]) != "" && signingKey != "next" {
		// Parsed now, so that a broken next key is found before the switch to it.
		data, err := keyMaterial(SetNextPrivateKeyFile, raw[SetNextPrivateKeyFile])
		if err != nil {
			return err
		}
		if _, err := signing.ParsePrivateKey(data); err != nil {
			return core.Errorf(core.ECONFIG, "setting %s: %s", SetNextPrivateKeyFile, core.ErrorMessage(err))
		}
	}
	if strings.TrimSpace(privRaw) != "" {
		name := SetPrivateKeyFile
		if signingKey == "next" {
			name = SetNextPrivateKeyFile
		}
		data, err := keyMaterial(name, privRaw)
		if err != nil {
			return err
		}
		key, err := signing.ParsePrivateKey(data)
		if err != nil {
			return core.Errorf(core.ECONFIG, "setting %s: %s", name, core.ErrorMessage(err))
		}
		if w := signing.KeyWarning(key.N.BitLen()); w != "" {
			s.Warnings = append(s.Warnings, name+": "+w)
		}
		s.privateKey = key
		if s.SignType != signing.MD5 {
			if s.Signer, err = signing.NewRSASigner(s.SignType, key); err != nil {
				return err
			}
		}
	} else if s.SignType != signing.MD5 {
		return core.Errorf(core.ECONFIG, "setting %s is required when %s is %s", SetPrivateKeyFile, SetSignType, s.SignType)
	}
	return nil
}

// DefaultMD5SignRefusals is md5_sign_refusal_codes when unset: ILLEGAL_SIGN, the gateway's
// "signature mismatch" (alipay-crossborder.md §11, alipayhk.md §13), checked before the gateway
// does anything. ILLEGAL_SIGN_TYPE is not in it: another key of the same type cannot cure it.
const DefaultMD5SignRefusals = "ILLEGAL_SIGN"

// parseMD5SigningKey reads md5_signing_key, the 1-based position of the signing key among n
// listed keys, and returns its index.
func parseMD5SigningKey(v string, n int) (int, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, nil
	}
	i, err := strconv.Atoi(v)
	if err != nil || i < 1 || i > n {
		return 0, core.Errorf(core.ECONFIG, "setting %s must be the position of a key in %s, 1 to %d, got %q", SetMD5SigningKey, SetMD5Key, n, v)
	}
	return i - 1, nil
}

// parseSignRefusals reads md5_sign_refusal_codes. A code may only be one whose answer proves
// the gateway did nothing: one catalogued as a key or set-up error (core.ECONFIG) or one not
// catalogued at all; never a business answer (the request was read and judged) nor an unknown
// outcome (the gateway may have acted).
func parseSignRefusals(v string) ([]string, error) {
	v = strings.TrimSpace(v)
	switch {
	case v == "":
		v = DefaultMD5SignRefusals
	case strings.EqualFold(v, "none"):
		return nil, nil
	}
	var out []string
	for _, c := range strings.Split(v, ",") {
		c = strings.TrimSpace(c)
		if !validCode(c) {
			return nil, core.Errorf(core.ECONFIG, "setting %s: %q is not a gateway error code (capital letters, digits and _)", SetMD5SignRefusals, c)
		}
		if k, known := errorKinds[c]; known && k != core.ECONFIG {
			return nil, core.Errorf(core.ECONFIG, "setting %s: %s is a %s answer, not a refused signature: signing again could act twice or hide a real refusal", SetMD5SignRefusals, c, k)
		}
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out, nil
}

func validCode(c string) bool {
	if c == "" || len(c) > 64 {
		return false
	}
	for i := 0; i < len(c); i++ {
		if !(c[i] >= 'A' && c[i] <= 'Z' || c[i] >= '0' && c[i] <= '9' || c[i] == '_') {
			return false
		}
	}
	return true
}

// MD5Signer returns the md5_key that md5_signing_key names (the first by default), for messages
// the buyer carries to the gateway (payment pages, MD5 order strings); nil without md5_key.
func (s *Settings) MD5Signer() signing.Signer {
	if s.md5 == nil {
		return nil
	}
	return s.md5.keys[s.md5.signing]
}

// keyBlocks splits key material holding several PEM blocks into one PEM block each; anything
// else (one block, a bare base64 key) is returned whole.
func keyBlocks(data []byte) [][]byte {
	var out [][]byte
	rest := data
	for {
		b, r := pem.Decode(rest)
		if b == nil {
			break
		}
		out = append(out, pem.EncodeToMemory(b))
		rest = r
	}
	if len(out) < 2 {
		return [][]byte{data}
	}
	return out
}

// anyVerifier accepts a signature that any of its verifiers (keys of one sign type) accepts:
// during a key rotation both the old and the new key are current. One verifier is itself.
func anyVerifier(vs []signing.Verifier) signing.Verifier {
	if len(vs) == 1 {
		return vs[0]
	}
	return multiVerifier(vs)
}

type multiVerifier []signing.Verifier

func (m multiVerifier) Type() signing.SignType { return m[0].Type() }

func (m multiVerifier) Verify(content, sig string) error {
	var first error
	for _, v := range m {
		err := v.Verify(content, sig)
		if err == nil {
			return nil
		}
		if first == nil {
			first = err
		}
	}
	return first
}

// RSASigner returns a signer of type t with the account's private key, for messages that must
// use a sign type other than the account's (the app order string is RSA on most accounts).
func (s *Settings) RSASigner(raw map[string]string, t signing.SignType) (signing.Signer, error) {
	if s.Signer != nil && s.Signer.Type() == t {
		return s.Signer, nil
	}
	if s.privateKey == nil {
		return nil, core.Errorf(core.ECONFIG, "setting %s is required to sign with %s", SetPrivateKeyFile, t)
	}
	return signing.NewRSASigner(t, s.privateKey) // the key signing_key names
}

// keyMaterial returns a key setting's bytes: the value itself when it already is a key (the host
// resolved a file: reference, or the key was pasted as one base64 line), else the file it names.
// The value is never echoed: it may be a key.
func keyMaterial(name, v string) ([]byte, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil, core.Errorf(core.ECONFIG, "setting %s is empty", name)
	}
	if strings.HasPrefix(v, "-----BEGIN") {
		return []byte(v), nil
	}
	data, err := os.ReadFile(v)
	if err == nil {
		return data, nil
	}
	if looksLikeBase64Key(v) {
		return []byte(v), nil
	}
	return nil, KeyFileError(name, err)
}

// KeyFileError is the error for a key setting whose value is neither a key nor a readable file.
// os.ReadFile's error quotes the path, which may be a pasted key with a stray character: the
// error names the setting and the reason only, and wraps nothing that holds the value.
func KeyFileError(name string, err error) *core.Error {
	reason := "unreadable"
	switch {
	case errors.Is(err, fs.ErrNotExist):
		reason = "no such file"
	case errors.Is(err, fs.ErrPermission):
		reason = "permission denied"
	case errors.Is(err, syscall.ENAMETOOLONG):
		reason = "name too long"
	case errors.Is(err, syscall.EISDIR):
		reason = "is a directory"
	}
	return core.Errorf(core.ECONFIG, "setting %s is neither a key nor a readable key file (%s)", name, reason)
}

// looksLikeBase64Key reports whether v is a bare base64 key rather than a path: keys are long and
// use only the base64 alphabet (a path has no '=' padding and is rarely 100+ characters of it).
func looksLikeBase64Key(v string) bool {
	if len(v) < 100 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=' || c == '\n' || c == '\r') {
			return false
		}
	}
	return true
}

func isCommon(k string) bool {
	switch k {
	case SetPartner, SetSellerID, SetGatewayURL, SetSignType, SetPrivateKeyFile, SetPublicKeyFile,
		SetMD5Key, SetNotifyVerify, SetInputCharset, SetTimeout, SetRequireRespSign, SetAckBody,
		SetAcceptSignTypes, SetNextPrivateKeyFile, SetSigningKey, SetAllowInsecure, SetMD5SigningKey, SetMD5SignRefusals:
		return true
	}
	return false
}

func validPartner(p string) bool {
	if len(p) != 16 || !strings.HasPrefix(p, "2088") {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
	}
	return true
}

// checkGateway requires an absolute https URL without query; http only for a loopback host
// (a simulator on this machine) or when allowInsecure says so: signed requests and the
// gateway's answers must not cross a network in the clear.
func checkGateway(v string, allowInsecure bool) error {
	if v == "" {
		return core.Errorf(core.ECONFIG, "setting %s is required", SetGatewayURL)
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return core.Errorf(core.ECONFIG, "setting %s must be an absolute http(s) URL without query, got %q", SetGatewayURL, v)
	}
	if u.Scheme == "http" && !allowInsecure && !IsLoopbackHost(u.Hostname()) {
		return core.Errorf(core.ECONFIG, "setting %s is http:// on %s, which is not a loopback address: use https, or set %s: true for a simulator on another host", SetGatewayURL, u.Hostname(), SetAllowInsecure)
	}
	return nil
}

// IsLoopbackHost reports whether host (a URL's hostname) is localhost or a loopback IP.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ParseBool reads an optional boolean setting (true/false/yes/no/1/0).
func ParseBool(raw map[string]string, name string, def bool) (bool, error) {
	v := strings.ToLower(strings.TrimSpace(raw[name]))
	switch v {
	case "":
		return def, nil
	case "yes", "y", "on":
		return true, nil
	case "no", "n", "off":
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, core.Errorf(core.ECONFIG, "setting %s must be true or false, got %q", name, raw[name])
	}
	return b, nil
}

// ParseEnum reads an optional setting that must be one of allowed (compared exactly); "" gives def.
func ParseEnum(raw map[string]string, name, def string, allowed ...string) (string, error) {
	v := strings.TrimSpace(raw[name])
	if v == "" {
		return def, nil
	}
	if !slices.Contains(allowed, v) {
		return "", core.Errorf(core.ECONFIG, "setting %s must be one of %s, got %q", name, strings.Join(allowed, ", "), v)
	}
	return v, nil
}
