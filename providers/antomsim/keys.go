package antomsim

import (
	"crypto/rsa"
	_ "embed"
	"fmt"

	"github.com/paymux/paymux/core/signing"
)

// Throw-away keys for tests, the demo and `paymux sim`. They are public in the repository and
// must never protect anything real. The merchant key is PKCS#8, as Antom's Java and Go SDKs
// read it; the simulator's own (Antom's) key is PKCS#1.
var (
	//go:embed testkeys/test-antom-merchant-private-pkcs8-DO-NOT-USE.pem
	TestMerchantPrivateKeyPEM []byte
	//go:embed testkeys/test-antom-merchant-public-DO-NOT-USE.pem
	TestMerchantPublicKeyPEM []byte
	//go:embed testkeys/test-antom-private-DO-NOT-USE.pem
	TestAntomPrivateKeyPEM []byte
	//go:embed testkeys/test-antom-public-DO-NOT-USE.pem
	TestAntomPublicKeyPEM []byte
)

func mustKey(pemBytes []byte) *rsa.PrivateKey {
	k, err := signing.ParsePrivateKey(pemBytes)
	if err != nil {
		panic(fmt.Sprintf("antomsim: embedded test key does not parse: %v", err))
	}
	return k
}
