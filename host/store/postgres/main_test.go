package postgres

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that closed stores leave no pool goroutines behind.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
