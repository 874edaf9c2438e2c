package bench

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Op is one unit of load: the i-th operation of a run. It returns an error when the operation
// did not succeed as the scenario defines success.
type Op func(ctx context.Context, i int) error

// LoadResult is what a load run measured.
type LoadResult struct {
	Ops     int           `json:"ops"`    // operations finished (ok or not)
	Errors  int           `json:"errors"` // operations that failed
	Elapsed time.Duration `json:"elapsed_ns"`
	// PerSecond is successful operations per second of wall time.
	PerSecond float64       `json:"per_second"`
	P50       time.Duration `json:"p50_ns"`
	P99       time.Duration `json:"p99_ns"`
	Max       time.Duration `json:"max_ns"`
	// FirstError is the first failure, for the report (never a secret: the API's error body).
	FirstError string `json:"first_error,omitempty"`
}

// RunLoad runs op with conc workers until n operations have started or d has passed,
// whichever comes first (both bounds are required, so a run can never be unbounded), and
// measures each operation's latency.
func RunLoad(ctx context.Context, n int, d time.Duration, conc int, op Op) LoadResult {
	r, _ := runLoad(ctx, n, d, conc, op)
	return r
}

// runLoad is RunLoad that also returns the latencies of the successful operations.
func runLoad(ctx context.Context, n int, d time.Duration, conc int, op Op) (LoadResult, []time.Duration) {
	if conc < 1 {
		conc = 1
	}
	if n < 1 || d <= 0 {
		return LoadResult{}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var (
		next     atomic.Int64
		mu       sync.Mutex
		lat      = make([]time.Duration, 0, min(n, 1<<16))
		errs     int
		firstErr string
		wg       sync.WaitGroup
	)
	start := time.Now()
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, 256)
			nerr := 0
			var ferr string
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					break
				}
				t0 := time.Now()
				err := op(ctx, i)
				el := time.Since(t0)
				if err != nil {
					if ctx.Err() != nil {
						break // cut by the time bound: neither a result nor a failure
					}
					nerr++
					if ferr == "" {
						ferr = err.Error()
					}
					continue
				}
				local = append(local, el)
			}
			mu.Lock()
			lat = append(lat, local...)
			errs += nerr
			if firstErr == "" {
				firstErr = ferr
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	r := LoadResult{Ops: len(lat) + errs, Errors: errs, Elapsed: time.Since(start), FirstError: firstErr}
	if r.Elapsed > 0 {
		r.PerSecond = float64(len(lat)) / r.Elapsed.Seconds()
	}
	r.P50, r.P99, r.Max = percentiles(lat)
	return r, lat
}

// merge combines consecutive runs: counts add up, throughput is over the summed elapsed time,
// percentiles are over all latencies.
func merge(runs []LoadResult, lats [][]time.Duration) LoadResult {
	var m LoadResult
	var all []time.Duration
	for i, r := range runs {
		m.Ops += r.Ops
		m.Errors += r.Errors
		m.Elapsed += r.Elapsed
		if m.FirstError == "" {
			m.FirstError = r.FirstError
		}
		all = append(all, lats[i]...)
	}
	if m.Elapsed > 0 {
		m.PerSecond = float64(len(all)) / m.Elapsed.Seconds()
	}
	m.P50, m.P99, m.Max = percentiles(all)
	return m
}

// percentiles returns p50, p99 and the maximum (nearest rank).
func percentiles(lat []time.Duration) (p50, p99, maxd time.Duration) {
	if len(lat) == 0 {
		return 0, 0, 0
	}
	slices.Sort(lat)
	rank := func(p float64) time.Duration {
		i := int(p*float64(len(lat))+0.999999) - 1
		return lat[max(0, min(i, len(lat)-1))]
	}
	return rank(0.50), rank(0.99), lat[len(lat)-1]
}
