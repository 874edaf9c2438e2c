package signing

import (
	"bytes"
	"encoding/base64"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/paymux/paymux/core"
)

// pemBody returns the base64 body of a PEM file, wrapped at 64 columns as openssl writes it.
func pemBody(t *testing.T, name string) string {
	t.Helper()
	var lines []string
	for _, l := range strings.Split(string(readKeyFile(t, name)), "\n") {
		if !strings.HasPrefix(l, "-----") {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}

// corrupt flips one byte in the middle of the DER of a PEM key and returns it as PEM again.
func corrupt(t *testing.T, name string) []byte {
	t.Helper()
	block, _ := pem.Decode(readKeyFile(t, name))
	der := bytes.Clone(block.Bytes)
	der[len(der)/2] ^= 0x55
	return pem.EncodeToMemory(&pem.Block{Type: block.Type, Bytes: der})
}

// truncate cuts the DER of a PEM key in half and returns it as bare base64.
func truncate(t *testing.T, name string) []byte {
	t.Helper()
	block, _ := pem.Decode(readKeyFile(t, name))
	return []byte(base64.StdEncoding.EncodeToString(block.Bytes[:len(block.Bytes)/2]))
}

func TestParsePrivateKeyFormats(t *testing.T) {
	ref := loadPrivate(t, "test-rsa2048-pkcs1-DO-NOT-USE.pem")
	tests := []struct {
		name string
		data []byte
		bits int
	}{
		{"PKCS#1 PEM", readKeyFile(t, "test-rsa2048-pkcs1-DO-NOT-USE.pem"), 2048},
		{"PKCS#8 PEM", readKeyFile(t, "test-rsa2048-pkcs8-DO-NOT-USE.pem"), 2048},
		{"PKCS#1 base64 one-liner", readKeyFile(t, "test-rsa2048-pkcs1-DO-NOT-USE.b64"), 2048},
		{"PKCS#8 base64 one-liner", readKeyFile(t, "test-rsa2048-pkcs8-DO-NOT-USE.b64"), 2048},
		{"PKCS#8 base64 wrapped, no headers", []byte(pemBody(t, "test-rsa2048-pkcs8-DO-NOT-USE.pem")), 2048},
		{"PEM with CRLF and surrounding blanks", []byte("\r\n  " + strings.ReplaceAll(string(readKeyFile(t, "test-rsa2048-pkcs1-DO-NOT-USE.pem")), "\n", "\r\n") + "\n\n"), 2048},
		{"PEM after explanatory text", append([]byte("Bag Attributes\n    friendlyName: test\n"), readKeyFile(t, "test-rsa2048-pkcs8-DO-NOT-USE.pem")...), 2048},
		{"base64 with spaces", []byte(" " + strings.ReplaceAll(string(readKeyFile(t, "test-rsa2048-pkcs1-DO-NOT-USE.b64")), "A", "A ") + "\n"), 2048},
		{"1024-bit PKCS#1", readKeyFile(t, "test-rsa1024-pkcs1-DO-NOT-USE.pem"), 1024},
		{"1024-bit PKCS#8", readKeyFile(t, "test-rsa1024-pkcs8-DO-NOT-USE.pem"), 1024},
		{"1024-bit section 4.6 key", readKeyFile(t, "test-doc46-rsa1024-pkcs1-DO-NOT-USE.pem"), 1024},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := ParsePrivateKey(tt.data)
			if err != nil {
				t.Fatalf("ParsePrivateKey: %v", err)
			}
			if k.N.BitLen() != tt.bits {
				t.Errorf("bits = %d, want %d", k.N.BitLen(), tt.bits)
			}
			if tt.bits == 2048 && !k.Equal(ref) {
				t.Error("parsed key differs from the PKCS#1 PEM reference")
			}
			warn := KeyWarning(k.N.BitLen())
			if (tt.bits < 2048) != (warn != "") {
				t.Errorf("KeyWarning(%d) = %q", tt.bits, warn)
			}
		})
	}
}

func TestParsePublicKeyFormats(t *testing.T) {
	ref := loadPrivate(t, "test-rsa2048-pkcs1-DO-NOT-USE.pem")
	tests := []struct {
		name string
		data []byte
		bits int
	}{
		{"SPKI PEM", readKeyFile(t, "test-rsa2048-public-spki.pem"), 2048},
		{"PKCS#1 PEM", readKeyFile(t, "test-rsa2048-public-pkcs1.pem"), 2048},
		{"SPKI base64 one-liner", readKeyFile(t, "test-rsa2048-public-spki.b64"), 2048},
		{"PKCS#1 base64 one-liner", readKeyFile(t, "test-rsa2048-public-pkcs1.b64"), 2048},
		{"SPKI base64 wrapped, no headers", []byte(pemBody(t, "test-rsa2048-public-spki.pem")), 2048},
		{"1024-bit SPKI", readKeyFile(t, "test-rsa1024-public-spki.pem"), 1024},
		{"1024-bit PKCS#1", readKeyFile(t, "test-rsa1024-public-pkcs1.pem"), 1024},
		{"Alipay legacy mapi key (base64 SPKI)", readKeyFile(t, "alipay-legacy-mapi-rsa1024-public.b64"), 1024},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := ParsePublicKey(tt.data)
			if err != nil {
				t.Fatalf("ParsePublicKey: %v", err)
			}
			if k.N.BitLen() != tt.bits {
				t.Errorf("bits = %d, want %d", k.N.BitLen(), tt.bits)
			}
			if tt.bits == 2048 && !k.Equal(&ref.PublicKey) {
				t.Error("parsed key is not the test key's public half")
			}
			if warn := KeyWarning(k.N.BitLen()); (tt.bits < 2048) != (warn != "") {
				t.Errorf("KeyWarning(%d) = %q", tt.bits, warn)
			}
		})
	}
}

func TestParseKeyErrors(t *testing.T) {
	tests := []struct {
		name    string
		public  bool // ParsePublicKey, else ParsePrivateKey
		data    []byte
		message string // a substring of the error
	}{
		{"private: empty", false, nil, "empty"},
		{"private: blanks", false, []byte(" \n\t"), "empty"},
		{"private: not PEM nor base64", false, []byte("not a key!"), "neither PEM nor base64"},
		{"private: PEM without end", false, []byte("-----BEGIN RSA PRIVATE KEY-----\nMIIB\n"), "malformed"},
		{"private: public SPKI PEM", false, readKeyFile(t, "test-rsa2048-public-spki.pem"), "expected a private key"},
		{"private: public PKCS#1 PEM", false, readKeyFile(t, "test-rsa2048-public-pkcs1.pem"), "expected a private key"},
		{"private: public base64", false, readKeyFile(t, "test-rsa2048-public-spki.b64"), "found a public key"},
		{"private: certificate", false, readKeyFile(t, "test-rsa2048-cert.pem"), "expected a private key"},
		{"private: EC PKCS#8 PEM", false, readKeyFile(t, "test-ec-p256-pkcs8-DO-NOT-USE.pem"), "not RSA"},
		{"private: EC PKCS#8 base64", false, readKeyFile(t, "test-ec-p256-pkcs8-DO-NOT-USE.b64"), "not RSA"},
		{"private: EC SEC 1 PEM", false, readKeyFile(t, "test-ec-p256-sec1-DO-NOT-USE.pem"), "EC PRIVATE KEY"},
		{"private: EC SEC 1 base64", false, []byte(pemBody(t, "test-ec-p256-sec1-DO-NOT-USE.pem")), "EC key"},
		{"private: corrupted PKCS#1", false, corrupt(t, "test-rsa2048-pkcs1-DO-NOT-USE.pem"), "corrupted"},
		{"private: corrupted PKCS#8", false, corrupt(t, "test-rsa2048-pkcs8-DO-NOT-USE.pem"), "corrupted"},
		{"private: truncated", false, truncate(t, "test-rsa2048-pkcs8-DO-NOT-USE.pem"), "corrupted"},
		{"private: 512-bit PKCS#1", false, readKeyFile(t, "test-rsa512-pkcs1-DO-NOT-USE.pem"), "512 bits"},
		{"private: 512-bit PKCS#8", false, readKeyFile(t, "test-rsa512-pkcs8-DO-NOT-USE.pem"), "512 bits"},

		{"public: empty", true, nil, "empty"},
		{"public: not PEM nor base64", true, []byte("MIGf*MA0"), "neither PEM nor base64"},
		{"public: private PKCS#1 PEM", true, readKeyFile(t, "test-rsa2048-pkcs1-DO-NOT-USE.pem"), "expected a public key"},
		{"public: private PKCS#8 PEM", true, readKeyFile(t, "test-rsa2048-pkcs8-DO-NOT-USE.pem"), "expected a public key"},
		{"public: private PKCS#1 base64", true, readKeyFile(t, "test-rsa2048-pkcs1-DO-NOT-USE.b64"), "found a private key"},
		{"public: private PKCS#8 base64", true, readKeyFile(t, "test-rsa2048-pkcs8-DO-NOT-USE.b64"), "found a private key"},
		{"public: EC SPKI PEM", true, readKeyFile(t, "test-ec-p256-public-spki.pem"), "not RSA"},
		{"public: EC SPKI base64", true, readKeyFile(t, "test-ec-p256-public-spki.b64"), "not RSA"},
		{"public: certificate", true, readKeyFile(t, "test-rsa2048-cert.pem"), "CERTIFICATE"},
		{"public: truncated", true, truncate(t, "test-rsa2048-public-spki.pem"), "corrupted"},
		{"public: 512-bit SPKI", true, readKeyFile(t, "test-rsa512-public-spki.pem"), "512 bits"},
		{"public: 512-bit PKCS#1", true, readKeyFile(t, "test-rsa512-public-pkcs1.pem"), "512 bits"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.public {
				_, err = ParsePublicKey(tt.data)
			} else {
				_, err = ParsePrivateKey(tt.data)
			}
			if err == nil {
				t.Fatal("no error")
			}
			if code := core.ErrorCode(err); code != core.ECONFIG {
				t.Errorf("code = %q, want %q (%v)", code, core.ECONFIG, err)
			}
			if !strings.Contains(err.Error(), tt.message) {
				t.Errorf("error %q does not mention %q", err, tt.message)
			}
			// No key material in the message: no run of 16 base64 characters from the input.
			body := strings.Join(strings.Fields(string(tt.data)), "")
			for i := 0; i+16 <= len(body); i += 16 {
				if chunk := body[i : i+16]; !strings.Contains(chunk, "-") && strings.Contains(err.Error(), chunk) {
					t.Fatalf("error leaks key text %q", chunk)
				}
			}
		})
	}
}

func TestKeyWarning(t *testing.T) {
	for _, tc := range []struct {
		bits int
		warn bool
	}{{1024, true}, {1536, true}, {2047, true}, {2048, false}, {3072, false}, {4096, false}} {
		w := KeyWarning(tc.bits)
		if (w != "") != tc.warn {
			t.Errorf("KeyWarning(%d) = %q, want warning %v", tc.bits, w, tc.warn)
		}
	}
}
