package postgres

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that closed stores leave no pool goroutines behind. The package's stores
// group InGroupTx (off by default), so that the storetest suite runs through it too.
func TestMain(m *testing.M) {
	TxGroupRunners = 2
	goleak.VerifyTestMain(m)
}
