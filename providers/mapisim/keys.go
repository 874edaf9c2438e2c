package mapisim

import (
	"crypto/rsa"
	_ "embed"
	"fmt"

	"github.com/paymux/paymux/core/signing"
)

// Throw-away keys for tests, the demo and `paymux sim`. They are public in the repository and
// must never protect anything real.
var (
	//go:embed testkeys/test-merchant-private-DO-NOT-USE.pem
	TestMerchantPrivateKeyPEM []byte
	//go:embed testkeys/test-merchant-public-DO-NOT-USE.pem
	TestMerchantPublicKeyPEM []byte
	//go:embed testkeys/test-alipay-private-DO-NOT-USE.pem
	TestAlipayPrivateKeyPEM []byte
	//go:embed testkeys/test-alipay-public-DO-NOT-USE.pem
	TestAlipayPublicKeyPEM []byte
	//go:embed testkeys/test-sftp-host-ed25519-DO-NOT-USE
	TestSFTPHostKeyPEM []byte
	//go:embed testkeys/test-sftp-client-ed25519-DO-NOT-USE
	TestSFTPClientKeyPEM []byte
	//go:embed testkeys/test-sftp-client-ed25519-DO-NOT-USE.pub
	TestSFTPClientAuthorizedKey []byte
)

// TestMD5Key is the throw-away MD5 key of the demo partners (32 characters, like a real one).
const TestMD5Key = "0bd27702fb7566abc7e2684d03ee6097"

// mustKey parses an embedded test key; the files are committed, so failure is a build defect.
func mustKey(pemBytes []byte) *rsa.PrivateKey {
	k, err := signing.ParsePrivateKey(pemBytes)
	if err != nil {
		panic(fmt.Sprintf("mapisim: embedded test key does not parse: %v", err))
	}
	return k
}
