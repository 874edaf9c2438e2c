package signing

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"strings"

	"github.com/paymux/paymux/core"
)

// MinKeyBits is the smallest RSA key accepted; WarnKeyBits the size below which KeyWarning
// says the key is weak. Legacy merchant keys and Alipay's legacy public key are 1024-bit.
const (
	MinKeyBits  = 1024
	WarnKeyBits = 2048
)

// ParsePrivateKey loads an RSA private key from PEM (PKCS#1 "RSA PRIVATE KEY" or PKCS#8
// "PRIVATE KEY") or from the bare base64 one-liner Alipay's tools hand out (PKCS#1 or PKCS#8 DER).
// Errors never include key material.
func ParsePrivateKey(data []byte) (*rsa.PrivateKey, error) {
	der, err := keyDER(data, "PRIVATE KEY", "RSA PRIVATE KEY")
	if err != nil {
		return nil, err
	}
	var key *rsa.PrivateKey
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		key = k
	} else if k8, err8 := x509.ParsePKCS8PrivateKey(der); err8 == nil {
		rk, ok := k8.(*rsa.PrivateKey)
		if !ok {
			return nil, core.Errorf(core.ECONFIG, "private key is %T, not RSA", k8)
		}
		key = rk
	} else {
		if _, errPub := x509.ParsePKIXPublicKey(der); errPub == nil {
			return nil, core.Errorf(core.ECONFIG, "expected a private key but found a public key")
		}
		if _, errEC := x509.ParseECPrivateKey(der); errEC == nil {
			return nil, core.Errorf(core.ECONFIG, "private key is an EC key, not RSA")
		}
		return nil, core.Errorf(core.ECONFIG, "private key is neither PKCS#1 nor PKCS#8 RSA (corrupted?)")
	}
	if err := checkBits(key.N.BitLen()); err != nil {
		return nil, err
	}
	key.Precompute()
	return key, nil
}

// ParsePublicKey loads an RSA public key from PEM ("PUBLIC KEY" SPKI or "RSA PUBLIC KEY"
// PKCS#1) or from a bare base64 one-liner (SPKI, as Alipay publishes it, or PKCS#1).
func ParsePublicKey(data []byte) (*rsa.PublicKey, error) {
	der, err := keyDER(data, "PUBLIC KEY", "RSA PUBLIC KEY")
	if err != nil {
		return nil, err
	}
	var pub *rsa.PublicKey
	if k, err := x509.ParsePKIXPublicKey(der); err == nil {
		rk, ok := k.(*rsa.PublicKey)
		if !ok {
			return nil, core.Errorf(core.ECONFIG, "public key is %T, not RSA", k)
		}
		pub = rk
	} else if k1, err1 := x509.ParsePKCS1PublicKey(der); err1 == nil {
		pub = k1
	} else {
		if _, errPriv := x509.ParsePKCS1PrivateKey(der); errPriv == nil {
			return nil, core.Errorf(core.ECONFIG, "expected a public key but found a private key")
		}
		if _, errPriv := x509.ParsePKCS8PrivateKey(der); errPriv == nil {
			return nil, core.Errorf(core.ECONFIG, "expected a public key but found a private key")
		}
		return nil, core.Errorf(core.ECONFIG, "public key is neither SPKI nor PKCS#1 RSA (corrupted?)")
	}
	if err := checkBits(pub.N.BitLen()); err != nil {
		return nil, err
	}
	return pub, nil
}

// KeyWarning returns a warning for keys under WarnKeyBits, or "" for strong keys.
func KeyWarning(bits int) string {
	if bits < WarnKeyBits {
		return fmt.Sprintf("RSA key has %d bits; %d or more is recommended", bits, WarnKeyBits)
	}
	return ""
}

func checkBits(bits int) error {
	if bits < MinKeyBits {
		return core.Errorf(core.ECONFIG, "RSA key has %d bits; at least %d are required", bits, MinKeyBits)
	}
	return nil
}

// keyDER returns the DER bytes of a PEM block of one of the wanted types, or of a bare base64
// key. A PEM block of another type (a certificate, an EC key) is an error naming that type.
func keyDER(data []byte, types ...string) ([]byte, error) {
	trimmed := strings.TrimSpace(string(data))
	if trimmed == "" {
		return nil, core.Errorf(core.ECONFIG, "key is empty")
	}
	// pem.Decode skips text before the block, such as the "Bag Attributes" openssl pkcs12 writes.
	if strings.Contains(trimmed, "-----BEGIN") {
		block, _ := pem.Decode([]byte(trimmed))
		if block == nil {
			return nil, core.Errorf(core.ECONFIG, "key PEM is malformed")
		}
		for _, t := range types {
			if block.Type == t {
				return block.Bytes, nil
			}
		}
		// A private key offered where a public one is wanted (or the reverse) gets its own message.
		if strings.Contains(block.Type, "PRIVATE") != strings.Contains(types[0], "PRIVATE") {
			want := "public"
			if strings.Contains(types[0], "PRIVATE") {
				want = "private"
			}
			return nil, core.Errorf(core.ECONFIG, "expected a %s key but found PEM type %q", want, block.Type)
		}
		return nil, core.Errorf(core.ECONFIG, "unsupported PEM type %q", block.Type)
	}
	compact := strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\n', '\r', '\t':
			return -1
		}
		return r
	}, trimmed)
	der, err := base64.StdEncoding.DecodeString(compact)
	if err != nil {
		return nil, core.Errorf(core.ECONFIG, "key is neither PEM nor base64")
	}
	return der, nil
}
