package storetest

import (
	"os"
	"syscall"
)

// fdatasync is what SQLite (and PostgreSQL's default wal_sync_method) use on Linux.
func fdatasync(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }
