package httpapi

import (
	"strconv"
	"testing"
	"time"
)

// TestRejectLimiter: a client is over its budget after perMinute failures, recovers at
// perMinute a minute, and the table of clients stays bounded (a client not tracked when it is
// full counts as over, until full buckets are swept out).
func TestRejectLimiter(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l := newRejectLimiter(3)
	l.now = func() time.Time { return now }
	for i := range 3 {
		if l.over("a") {
			t.Fatalf("over after %d failures", i)
		}
		l.spend("a")
	}
	if !l.over("a") || l.over("b") {
		t.Fatalf("after 3 failures: a over %v, b over %v", l.over("a"), l.over("b"))
	}
	now = now.Add(20 * time.Second) // 3 a minute: one back
	if l.over("a") {
		t.Fatal("no budget back after 20 s")
	}
	l.set(-1)
	l.spend("a")
	if l.over("a") || len(l.clients) != 0 {
		t.Fatal("limit off still counts")
	}

	l = newRejectLimiter(1)
	l.now = func() time.Time { return now }
	for i := range maxLimitedClients {
		l.spend(strconv.Itoa(i))
	}
	if len(l.clients) != maxLimitedClients || !l.over("new") {
		t.Fatalf("full table: %d clients, new client over %v", len(l.clients), l.over("new"))
	}
	l.spend("new")
	if len(l.clients) != maxLimitedClients {
		t.Fatalf("the table grew past its bound: %d", len(l.clients))
	}
	now = now.Add(time.Minute) // every bucket is full again: the sweep makes room
	if l.over("new") {
		t.Fatal("a new client is over after the others recovered")
	}
	l.spend("new")
	if _, ok := l.clients["new"]; !ok || len(l.clients) > maxLimitedClients {
		t.Fatalf("after the sweep: %d clients, new tracked %v", len(l.clients), ok)
	}
}
