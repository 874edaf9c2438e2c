package mapisim

import (
	"strings"
	"testing"
)

// The wrong_sign fault must change every signature, also for a verifier that ignores case (MD5
// signatures are hex and verify case-insensitively).
func TestCorruptChangesEverySignature(t *testing.T) {
	for _, sig := range []string{"", "a", "A", "0", "b", "abc123", "ABC123", "Abcd+/==", "0f0f"} {
		got := corrupt(sig)
		if strings.EqualFold(got, sig) || len(got) != max(len(sig), 1) {
			t.Errorf("corrupt(%q) = %q", sig, got)
		}
	}
}
