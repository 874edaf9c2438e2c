package migrations

import (
	"strings"
	"testing"
)

func TestLoad(t *testing.T) {
	for _, d := range []Dialect{SQLite, Postgres} {
		ms, err := Load(d)
		if err != nil {
			t.Fatalf("%s: %v", d, err)
		}
		if len(ms) == 0 || ms[0].Version != 1 || ms[0].Name != "init" {
			t.Fatalf("%s: first migration = %+v", d, ms)
		}
		for i, m := range ms {
			if m.Version != i+1 {
				t.Errorf("%s: migration %d has version %d; versions must be 1..n without gaps", d, i, m.Version)
			}
			if strings.Contains(m.SQL, "{{") {
				t.Errorf("%s: %d still has a placeholder", d, m.Version)
			}
		}
	}
	if _, err := Load("mysql"); err == nil {
		t.Error("Load(mysql) succeeded")
	}
}
