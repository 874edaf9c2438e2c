package antom

import (
	"crypto/rsa"
	"errors"
	"io/fs"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/core/signing"
)

// Names of the account settings.
const (
	SetClientID       = "client_id"
	SetRegion         = "region"
	SetGatewayURL     = "gateway_url"
	SetPrivateKey     = "private_key_file"
	SetPublicKeys     = "antom_public_key_file"
	SetPublicKeysNext = "antom_public_key_next_file"
	SetSandbox        = "sandbox"
	SetKeyVersion     = "key_version"
	SetTimeout        = "timeout"
	SetMaxExpiry      = "max_expiry"
	SetRefundSync     = "refund_success_is_final"
	SetSettlementCur  = "settlement_currency"
)

// regionHosts are Antom's documented production hosts (antom.md section 1).
var regionHosts = map[string]string{
	"asia":          "https://open-sea-global.alipay.com",
	"north_america": "https://open-na-global.alipay.com",
	"europe":        "https://open-de-global.alipay.com",
	"us":            "https://open.antglobal-us.com",
}

const (
	defaultTimeout   = 15 * time.Second
	defaultMaxExpiry = 14 * time.Minute
)

func settingsSchema() []core.Setting {
	return []core.Setting{
		{Name: SetClientID, Required: true, Description: "Antom client id (sandbox ids start with SANDBOX_)"},
		{Name: SetRegion, Description: "asia, north_america, europe or us: picks Antom's documented host; give this or gateway_url"},
		{Name: SetGatewayURL, Description: "base URL of the gateway instead of region, e.g. https://open-sea-global.alipay.com or the simulator's URL"},
		{Name: SetPrivateKey, Required: true, Secret: true, Description: "merchant RSA private key, PKCS#1 or PKCS#8, PEM or bare base64: a file path (relative to the config file) or the key itself"},
		{Name: SetPublicKeys, Required: true, Description: "Antom's RSA public key (PEM or bare base64 SubjectPublicKeyInfo): the key or a file path"},
		{Name: SetPublicKeysNext, Description: "a second Antom public key accepted too, while Antom rotates its key"},
		{Name: SetSandbox, Description: "true: call /ams/sandbox/api paths (default: true exactly when client_id starts with SANDBOX_)"},
		{Name: SetKeyVersion, Description: "keyVersion sent in the Signature header (default 1)"},
		{Name: SetTimeout, Description: "deadline of one gateway call, e.g. 15s (default 15s)"},
		{Name: SetMaxExpiry, Description: "longest paymentExpiryTime sent, from the request (default 14m; Antom's docs say 14 min by default and also 'less than 10 min' for custom values: UNCONFIRMED). A later payment expiry is shortened to it"},
		{Name: SetRefundSync, Description: "true (default): a refund answered S has succeeded (the docs: 'if the API call succeeds, the refund also succeeds'); false: it is processing until notifyRefund or inquiryRefund says SUCCESS"},
		{Name: SetSettlementCur, Description: "settlementStrategy.settlementCurrency sent with every payment, when several settlement currencies are contracted"},
	}
}

// account is one merchant account's parsed settings.
type account struct {
	clientID   string
	base       string // scheme://host of the gateway, no trailing slash
	sandbox    bool
	key        *rsa.PrivateKey
	antomKeys  []*rsa.PublicKey
	keyVersion string
	timeout    time.Duration
	maxExpiry  time.Duration
	refundSync bool
	settleCur  string
	warnings   []string
}

// path returns the signed path of an API: /ams/api/v1/payments/<api>, or the sandbox form.
func (a *account) path(api string) string {
	if a.sandbox {
		return "/ams/sandbox/api/v1/payments/" + api
	}
	return "/ams/api/v1/payments/" + api
}

func parseSettings(raw map[string]string) (*account, error) {
	known := map[string]bool{}
	for _, s := range settingsSchema() {
		known[s.Name] = true
	}
	var names []string
	for k := range raw {
		if !known[k] {
			names = append(names, k)
		}
	}
	if len(names) > 0 {
		slices.Sort(names)
		return nil, core.Errorf(core.ECONFIG, "unknown setting(s) %s", strings.Join(names, ", "))
	}
	a := &account{clientID: strings.TrimSpace(raw[SetClientID])}
	if a.clientID == "" {
		return nil, core.Errorf(core.ECONFIG, "setting %s is required", SetClientID)
	}
	if len(a.clientID) > 64 || strings.ContainsAny(a.clientID, " \t\r\n.") {
		return nil, core.Errorf(core.ECONFIG, "setting %s must be at most 64 characters without spaces or dots", SetClientID)
	}
	region, gw := strings.TrimSpace(raw[SetRegion]), strings.TrimSpace(raw[SetGatewayURL])
	switch {
	case region != "" && gw != "":
		return nil, core.Errorf(core.ECONFIG, "give %s or %s, not both", SetRegion, SetGatewayURL)
	case region != "":
		h, ok := regionHosts[region]
		if !ok {
			return nil, core.Errorf(core.ECONFIG, "setting %s must be one of asia, north_america, europe, us, got %q", SetRegion, region)
		}
		a.base = h
	case gw != "":
		u, err := url.Parse(gw)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || strings.Trim(u.Path, "/") != "" {
			return nil, core.Errorf(core.ECONFIG, "setting %s must be an http(s) URL of the gateway's host without path or query, got %q", SetGatewayURL, gw)
		}
		if u.Scheme == "http" {
			a.warnings = append(a.warnings, "gateway_url is plain http: only for a local simulator")
		}
		a.base = u.Scheme + "://" + u.Host
	default:
		return nil, core.Errorf(core.ECONFIG, "setting %s or %s is required", SetRegion, SetGatewayURL)
	}
	var err error
	if a.sandbox, err = parseBool(raw, SetSandbox, strings.HasPrefix(a.clientID, "SANDBOX_")); err != nil {
		return nil, err
	}
	data, err := keyMaterial(SetPrivateKey, raw[SetPrivateKey])
	if err != nil {
		return nil, err
	}
	if a.key, err = signing.ParsePrivateKey(data); err != nil {
		return nil, core.Errorf(core.ECONFIG, "setting %s: %s", SetPrivateKey, core.ErrorMessage(err))
	}
	for _, name := range []string{SetPublicKeys, SetPublicKeysNext} {
		v := raw[name]
		if strings.TrimSpace(v) == "" {
			if name == SetPublicKeys {
				return nil, core.Errorf(core.ECONFIG, "setting %s is required", name)
			}
			continue
		}
		data, err := keyMaterial(name, v)
		if err != nil {
			return nil, err
		}
		pub, err := signing.ParsePublicKey(data)
		if err != nil {
			return nil, core.Errorf(core.ECONFIG, "setting %s: %s", name, core.ErrorMessage(err))
		}
		a.antomKeys = append(a.antomKeys, pub)
	}
	a.keyVersion = strings.TrimSpace(raw[SetKeyVersion])
	if a.keyVersion == "" {
		a.keyVersion = "1"
	} else if n, err := strconv.Atoi(a.keyVersion); err != nil || n < 0 {
		return nil, core.Errorf(core.ECONFIG, "setting %s must be a whole number, got %q", SetKeyVersion, a.keyVersion)
	}
	if a.timeout, err = parseDuration(raw, SetTimeout, defaultTimeout); err != nil {
		return nil, err
	}
	if a.maxExpiry, err = parseDuration(raw, SetMaxExpiry, defaultMaxExpiry); err != nil {
		return nil, err
	}
	if a.refundSync, err = parseBool(raw, SetRefundSync, true); err != nil {
		return nil, err
	}
	if a.settleCur = strings.TrimSpace(raw[SetSettlementCur]); a.settleCur != "" && !core.ValidCurrency(a.settleCur) {
		return nil, core.Errorf(core.ECONFIG, "setting %s must be an ISO 4217 code, got %q", SetSettlementCur, a.settleCur)
	}
	return a, nil
}

func parseBool(raw map[string]string, name string, def bool) (bool, error) {
	v := strings.TrimSpace(raw[name])
	if v == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, core.Errorf(core.ECONFIG, "setting %s must be true or false, got %q", name, v)
	}
	return b, nil
}

func parseDuration(raw map[string]string, name string, def time.Duration) (time.Duration, error) {
	v := strings.TrimSpace(raw[name])
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, core.Errorf(core.ECONFIG, "setting %s must be a positive duration such as 15s, got %q", name, v)
	}
	return d, nil
}

// keyMaterial returns a key setting's bytes: the value itself when it is a key (PEM, or one
// base64 line), else the file it names. The value is never echoed: it may be a key.
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
	if looksLikeBase64(v) {
		return []byte(v), nil
	}
	reason := "unreadable"
	switch {
	case errors.Is(err, fs.ErrNotExist):
		reason = "no such file"
	case errors.Is(err, fs.ErrPermission):
		reason = "permission denied"
	}
	return nil, core.Errorf(core.ECONFIG, "setting %s is neither a key nor a readable key file (%s)", name, reason)
}

func looksLikeBase64(v string) bool {
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
