package sdk

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// testHookVerified, when set (tests only), runs after the binary's bytes were checked against
// the pin and before the process starts: the window in which a swapped file must not matter.
var testHookVerified func(path string)

// pinnedExecutable reads the plugin binary at path once, checks exactly those bytes against
// the pin (verifyChecksum), and writes them to a fresh file in a new private (0700) directory
// below dir (the runtime dir, itself private). The process is started from that copy, so what
// runs is byte for byte what was hashed: replacing the file at path after the check (a
// check-then-exec race, go-plugin's own SecureConfig has it) changes nothing. A memfd would
// avoid the disk, but a process started from /proc/self/fd/N is named "N" in ps and /proc,
// where operators and the fault suite look for paymux-provider-*; the copy keeps the name.
// release removes the copy; call it once the process has started (a running binary may be
// unlinked) or failed to.
func pinnedExecutable(name, path, want, dir string) (exe string, release func(), err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", nil, fmt.Errorf("plugin %s: %w", name, err)
	}
	if err := verifyChecksum(name, path, data, want); err != nil {
		return "", nil, err
	}
	if testHookVerified != nil {
		testHookVerified(path)
	}
	tmp, err := os.MkdirTemp(dir, "exe-")
	if err != nil {
		return "", nil, fmt.Errorf("plugin %s: private copy: %w", name, err)
	}
	release = func() { _ = os.RemoveAll(tmp) }
	exe = filepath.Join(tmp, filepath.Base(path))
	if err := writeExecutable(exe, data); err != nil {
		release()
		return "", nil, fmt.Errorf("plugin %s: private copy: %w", name, err)
	}
	return exe, release, nil
}

// writeExecutable creates path (mode 0500) holding data. It holds syscall.ForkLock while the
// file is open for writing: a process forked meanwhile (anywhere in the host) would inherit
// the writable descriptor until its own exec, and exec of a file open for writing fails with
// ETXTBSY ("text file busy", golang.org/issue/22315).
func writeExecutable(path string, data []byte) error {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o500)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// verifyChecksum is the pin check: the only place that decides whether a plugin binary's bytes
// may run. Launch refuses to start a binary it rejects.
func verifyChecksum(name, path string, data []byte, want string) error {
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); got != want {
		return fmt.Errorf("plugin %s (%s): %w: pinned sha256 %s, binary has sha256 %s; refusing to start it",
			name, path, ErrChecksumMismatch, want, got)
	}
	return nil
}
