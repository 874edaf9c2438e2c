package host

import (
	"testing"
	"time"
)

func TestDefaultRetryPolicySpansThreeDays(t *testing.T) {
	p := DefaultRetryPolicy
	now := time.Unix(0, 0)
	var nominal time.Duration
	attempts := 0
	for {
		attempts++
		next, ok := p.Next(now, attempts)
		if !ok {
			break
		}
		d := p.Delay(attempts)
		if got := next.Sub(now); got < d*8/10 || got > d*12/10 {
			t.Fatalf("attempt %d: wait %v outside 20%% jitter of %v", attempts, got, d)
		}
		nominal += d
		if attempts > 100 {
			t.Fatal("the policy never gives up")
		}
	}
	if nominal > 72*time.Hour || nominal < 66*time.Hour {
		t.Fatalf("retries span %v over %d attempts, want just under 3 days", nominal, attempts)
	}
	for i, want := range []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute} {
		if got := p.Delay(i + 1); got != want {
			t.Errorf("Delay(%d) = %v, want %v", i+1, got, want)
		}
	}
	if got := p.Delay(40); got != 6*time.Hour {
		t.Errorf("Delay(40) = %v, want the 6h cap", got)
	}
}
