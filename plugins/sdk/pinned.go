package sdk

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// testHookVerified, when set (tests only), runs after the binary's bytes were checked against
// the pin and before the process starts: the window in which a swapped file must not matter.
var testHookVerified func(path string)

// pinnedExecutable copies the plugin binary at path to a fresh file in a new private (0700)
// directory below dir (the runtime dir, itself private), hashing the bytes as they are written,
// and checks that hash against the pin (verifyChecksum); a copy that fails the check is removed.
// The process is started from that copy, so what runs is byte for byte what was hashed:
// replacing the file at path after the check (a check-then-exec race, go-plugin's own
// SecureConfig has it) changes nothing. The copy streams through a small buffer: reading the
// whole binary (about 22 MB) into the heap first doubled the host's heap goal at start and
// its peak RSS (38 -> 78 MiB in paymux bench). A memfd would avoid the disk, but a process
// started from /proc/self/fd/N is named "N" in ps and /proc, where operators and the fault
// suite look for paymux-provider-*; the copy keeps the name. release removes the copy; call it
// once the process has started (a running binary may be unlinked) or failed to.
func pinnedExecutable(name, path, want, dir string) (exe string, release func(), err error) {
	src, err := os.Open(path)
	if err != nil {
		return "", nil, fmt.Errorf("plugin %s: %w", name, err)
	}
	defer src.Close()
	tmp, err := os.MkdirTemp(dir, "exe-")
	if err != nil {
		return "", nil, fmt.Errorf("plugin %s: private copy: %w", name, err)
	}
	release = func() { _ = os.RemoveAll(tmp) }
	exe = filepath.Join(tmp, filepath.Base(path))
	h := sha256.New()
	if err := writeExecutable(exe, io.TeeReader(src, h)); err != nil {
		release()
		return "", nil, fmt.Errorf("plugin %s: private copy of %s: %w", name, path, err)
	}
	if err := verifyChecksum(name, path, h.Sum(nil), want); err != nil {
		release()
		return "", nil, err
	}
	if testHookVerified != nil {
		testHookVerified(path)
	}
	return exe, release, nil
}

// writeExecutable creates path (mode 0500) holding what r reads. It holds syscall.ForkLock
// while the file is open for writing: a process forked meanwhile (anywhere in the host) would
// inherit the writable descriptor until its own exec, and exec of a file open for writing
// fails with ETXTBSY ("text file busy", golang.org/issue/22315).
func writeExecutable(path string, r io.Reader) error {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o500)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// verifyChecksum is the pin check: the only place that decides whether a plugin binary's bytes
// may run (sum is the SHA-256 of the bytes that will run). Launch refuses to start a binary it
// rejects.
func verifyChecksum(name, path string, sum []byte, want string) error {
	if got := hex.EncodeToString(sum); got != want {
		return fmt.Errorf("plugin %s (%s): %w: pinned sha256 %s, binary has sha256 %s; refusing to start it",
			name, path, ErrChecksumMismatch, want, got)
	}
	return nil
}
