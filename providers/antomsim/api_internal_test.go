package antomsim

import "testing"

// The bad-signature fault must change every signature, whatever its first character.
func TestCorruptSignatureAlwaysChanges(t *testing.T) {
	for _, sig := range []string{"", "A", "B", "AAAA", "Abcd+/==", "xyz", "/+=="} {
		if got := corruptSignature(sig); got == sig || len(got) != max(len(sig), 1) {
			t.Errorf("corruptSignature(%q) = %q", sig, got)
		}
	}
}
