//go:build !linux

package storetest

import "os"

func fdatasync(f *os.File) error { return f.Sync() }
