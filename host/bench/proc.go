package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ProcMem is the memory of one process as /proc/<pid>/status reports it.
type ProcMem struct {
	PID  int    `json:"pid"`
	Name string `json:"name"`
	// PeakRSS is VmHWM ("high water mark" of the resident set) in bytes: the most the process
	// ever had resident, so a short-lived peak between two samples is not missed.
	PeakRSS int64 `json:"peak_rss_bytes"`
	RSS     int64 `json:"rss_bytes"`
}

// ReadProcMem reads VmHWM and VmRSS of pid.
func ReadProcMem(pid int) (ProcMem, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return ProcMem{}, fmt.Errorf("reading memory of process %d: %w", pid, err)
	}
	m := ProcMem{PID: pid}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch k {
		case "Name":
			m.Name = v
		case "VmHWM":
			m.PeakRSS = kib(v)
		case "VmRSS":
			m.RSS = kib(v)
		}
	}
	return m, nil
}

// kib parses "1234 kB" into bytes.
func kib(v string) int64 {
	n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(v, "kB")), 10, 64)
	if err != nil {
		return 0
	}
	return n * 1024
}

// ChildrenNamed returns the live children of parent whose executable name starts with prefix
// (e.g. "paymux-provider-"). It scans /proc, so it sees processes started by any means.
func ChildrenNamed(parent int, prefix string) []int {
	var out []int
	for _, pid := range allPIDs() {
		ppid, name, state, ok := statOf(pid)
		if !ok || ppid != parent || state == "Z" {
			continue
		}
		if strings.HasPrefix(name, prefix) || strings.HasPrefix(exeBase(pid), prefix) {
			out = append(out, pid)
		}
	}
	return out
}

// DescendantsNamed is ChildrenNamed over the whole process tree below root.
func DescendantsNamed(root int, prefix string) []int {
	parents := map[int]int{}
	for _, pid := range allPIDs() {
		if ppid, _, state, ok := statOf(pid); ok && state != "Z" {
			parents[pid] = ppid
		}
	}
	var out []int
	for pid := range parents {
		for p := parents[pid]; p > 1; p = parents[p] {
			if p == root {
				if _, name, _, ok := statOf(pid); ok && (strings.HasPrefix(name, prefix) || strings.HasPrefix(exeBase(pid), prefix)) {
					out = append(out, pid)
				}
				break
			}
		}
	}
	return out
}

func allPIDs() []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// statOf returns the parent pid, the (15-byte) comm name and the state of pid.
func statOf(pid int) (ppid int, name, state string, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, "", "", false
	}
	// Format: pid (comm) state ppid ...; comm may contain spaces and parentheses.
	s := string(b)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return 0, "", "", false
	}
	name = s[open+1 : end]
	f := strings.Fields(s[end+1:])
	if len(f) < 2 {
		return 0, "", "", false
	}
	ppid, err = strconv.Atoi(f[1])
	return ppid, name, f[0], err == nil
}

// exeBase is the base name of pid's executable ("" when unreadable); comm is cut at 15 bytes,
// which "paymux-provider-alipayhk" exceeds.
func exeBase(pid int) string {
	p, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		return ""
	}
	return filepath.Base(strings.TrimSuffix(p, " (deleted)"))
}

// Alive reports whether pid is a live (not zombie) process whose name starts with prefix; a
// reused pid running something else does not count.
func Alive(pid int, prefix string) bool {
	_, name, state, ok := statOf(pid)
	if !ok || state == "Z" || state == "X" {
		return false
	}
	return strings.HasPrefix(name, prefix) || strings.HasPrefix(exeBase(pid), prefix)
}

// CPUTime returns the user+system CPU time pid has used (from /proc/<pid>/stat, in clock
// ticks of 10 ms, the USER_HZ of Linux on every supported architecture).
func CPUTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	end := strings.LastIndexByte(s, ')')
	if end < 0 {
		return 0
	}
	f := strings.Fields(s[end+1:])
	// After the comm: state(0) ppid(1) ... utime(11) stime(12).
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+st) * 10 * time.Millisecond
}
