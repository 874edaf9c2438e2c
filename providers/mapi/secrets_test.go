package mapi

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/paymux/paymux/core"
)

// secretMarker is planted in every secret setting below; it must never reach an error.
const secretMarker = "SECRET-MARKER-DO-NOT-LOG"

// TestSettingsErrorsKeepSecrets drives ParseSettings through its error paths with secret
// settings that carry a marker and checks that neither the error, its wrapped detail, nor a
// printed Settings quotes one.
func TestSettingsErrorsKeepSecrets(t *testing.T) {
	base := func() map[string]string {
		return map[string]string{
			SetPartner:        testPartner,
			SetGatewayURL:     "https://gateway.test/gateway.do",
			SetSignType:       "RSA2",
			SetPrivateKeyFile: keyPath("test-merchant-rsa2048-DO-NOT-USE.pem"),
			SetPublicKeyFile:  keyPath("test-alipay-rsa2048-public.pem"),
			SetMD5Key:         "md5-" + secretMarker,
		}
	}
	pem := string(readFile(t, keyPath("test-merchant-rsa2048-DO-NOT-USE.pem")))
	pemBody := strings.Split(pem, "\n")[1] // a line of the key's base64
	for _, tc := range []struct {
		name string
		set  map[string]string
	}{
		// a pasted key with a stray character is not base64, so it is taken as a path
		{"key pasted with a typo", map[string]string{SetPrivateKeyFile: "MIIEv" + secretMarker + " with spaces, not base64"}},
		{"key pasted without BEGIN line", map[string]string{SetPrivateKeyFile: strings.Join(strings.Split(pem, "\n")[1:5], " ") + " " + secretMarker}},
		{"long pasted value", map[string]string{SetPrivateKeyFile: strings.Repeat("A-", 300) + secretMarker}},
		{"corrupt PEM", map[string]string{SetPrivateKeyFile: "-----BEGIN PRIVATE KEY-----\n" + secretMarker + "\n-----END PRIVATE KEY-----"}},
		{"bad base64 key", map[string]string{SetPrivateKeyFile: strings.Repeat("QUJD", 40) + "!" + secretMarker}},
		{"public key in private slot", map[string]string{SetPrivateKeyFile: string(readFile(t, keyPath("test-alipay-rsa2048-public.pem")))}},
		{"MD5 account with bad partner", map[string]string{SetSignType: "MD5", SetPartner: "x"}},
		{"unknown setting", map[string]string{"md5_kye": secretMarker}},
		{"bad sign type", map[string]string{SetSignType: "SHA1"}},
		{"bad accept list", map[string]string{SetAcceptSignTypes: "RSA2,DSA"}},
		{"bad timeout", map[string]string{SetTimeout: "forever"}},
	} {
		raw := base()
		for k, v := range tc.set {
			raw[k] = v
		}
		s, err := ParseSettings(raw)
		if err == nil {
			t.Errorf("%s: no error (%v)", tc.name, s)
			continue
		}
		for _, text := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err), core.ErrorMessage(err)} {
			if strings.Contains(text, secretMarker) || strings.Contains(text, pemBody) {
				t.Errorf("%s: error quotes a secret: %s", tc.name, text)
			}
		}
	}

	// A parsed account printed any way keeps its keys to itself.
	raw := base()
	raw[SetPrivateKeyFile] = pem
	s, err := ParseSettings(raw)
	if err != nil {
		t.Fatal(err)
	}
	c := NewClient(s, nil)
	for _, text := range []string{fmt.Sprint(s), fmt.Sprintf("%+v", s), fmt.Sprintf("%+v", *s), fmt.Sprintf("%#v", *s), fmt.Sprint(c), fmt.Sprintf("%+v", c)} {
		if strings.Contains(text, secretMarker) || strings.Contains(text, pemBody) {
			t.Errorf("printed settings quote a secret: %s", text)
		}
	}
	if _, err := os.Stat(secretMarker); err == nil {
		t.Fatal("a file named like the marker exists")
	}
}
