package store

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/paymux/paymux/core"
)

// Opener opens a store from a data source name. Drivers register one in their init function,
// as database/sql drivers do, so that the host can open the driver named in config after a
// blank import of host/store/sqlite and host/store/postgres.
type Opener func(ctx context.Context, dsn string) (Store, error)

var (
	driversMu sync.RWMutex
	drivers   = map[string]Opener{}
)

// Register makes a driver available to Open under name. It panics when name is taken.
func Register(name string, open Opener) {
	driversMu.Lock()
	defer driversMu.Unlock()
	if _, dup := drivers[name]; dup {
		panic("store: Register called twice for driver " + name)
	}
	drivers[name] = open
}

// Drivers returns the registered driver names, sorted.
func Drivers() []string {
	driversMu.RLock()
	defer driversMu.RUnlock()
	names := make([]string, 0, len(drivers))
	for n := range drivers {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Open opens the store of the named driver ("sqlite" or "postgres") and applies pending
// migrations. An unknown driver is ECONFIG.
func Open(ctx context.Context, driver, dsn string) (Store, error) {
	driversMu.RLock()
	open, ok := drivers[driver]
	driversMu.RUnlock()
	if !ok {
		return nil, core.Errorf(core.ECONFIG, "unknown store driver %q (have %v)", driver, Drivers())
	}
	s, err := open(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s store: %w", driver, err)
	}
	return s, nil
}
