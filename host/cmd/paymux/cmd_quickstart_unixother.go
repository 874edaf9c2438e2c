//go:build unix && !linux

package main

import "syscall"

func qsSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
