package sqlite

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that every store the tests opened and closed left no goroutine behind (the
// committer above all).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
