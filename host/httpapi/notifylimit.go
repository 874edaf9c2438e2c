package httpapi

import (
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// maxLimitedClients bounds the clients whose rejected notifications are counted. Past it a
// client not yet tracked is treated as over its budget: its notifications are verified before
// they are stored, which costs one provider call and never refuses a genuine one, so an
// attacker with many addresses gains nothing and the table cannot grow without bound.
const maxLimitedClients = 10000

// rejectLimiter counts, per client (remote IP), the /notify requests that failed verification
// (a token bucket from golang.org/x/time/rate: perMinute per minute, bursts of perMinute).
type rejectLimiter struct {
	mu        sync.Mutex
	perMinute int64 // <= 0: no limit
	clients   map[string]*rate.Limiter
	now       func() time.Time
}

func newRejectLimiter(perMinute int64) *rejectLimiter {
	return &rejectLimiter{perMinute: perMinute, clients: map[string]*rate.Limiter{}, now: time.Now}
}

// set changes the budget (config reload); counts start afresh.
func (l *rejectLimiter) set(perMinute int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if perMinute != l.perMinute {
		l.perMinute, l.clients = perMinute, map[string]*rate.Limiter{}
	}
}

// over reports whether client has no budget left for another rejected notification.
func (l *rejectLimiter) over(client string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.perMinute <= 0 {
		return false
	}
	lim, ok := l.clients[client]
	if !ok {
		return len(l.clients) >= maxLimitedClients && !l.sweep()
	}
	return lim.TokensAt(l.now()) < 1
}

// spend records one rejected notification of client.
func (l *rejectLimiter) spend(client string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.perMinute <= 0 {
		return
	}
	lim, ok := l.clients[client]
	if !ok {
		if len(l.clients) >= maxLimitedClients && !l.sweep() {
			return
		}
		lim = rate.NewLimiter(rate.Limit(float64(l.perMinute)/60), int(l.perMinute))
		l.clients[client] = lim
	}
	lim.AllowN(l.now(), 1)
}

// sweep forgets clients whose bucket is full again (they are as good as new) and reports
// whether that made room.
func (l *rejectLimiter) sweep() bool {
	now := l.now()
	for c, lim := range l.clients {
		if lim.TokensAt(now) >= float64(lim.Burst()) {
			delete(l.clients, c)
		}
	}
	return len(l.clients) < maxLimitedClients
}

// clientOf is the remote IP of r (its port dropped): the unit the limit counts. paymux does not
// trust X-Forwarded-For; behind a proxy every wallet shares the proxy's budget, which still
// never holds back a verified notification.
func clientOf(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
