//go:build !linux

package storetest

import (
	"os"
	"time"
)

func fdatasync(f *os.File) error { return f.Sync() }

// cpuTime is not measured here (0: no cpu-us metric).
func cpuTime() time.Duration { return 0 }
