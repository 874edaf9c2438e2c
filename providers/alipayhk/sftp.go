package alipayhk

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/providers/mapi"
)

// Names of the SFTP settings (reconciliation files are only delivered over SFTP, alipayhk.md 14.1).
const (
	SetSFTPAddr        = "sftp_addr"
	SetSFTPUser        = "sftp_user"
	SetSFTPKeyFile     = "sftp_private_key_file"
	SetSFTPPassword    = "sftp_password"
	SetSFTPKnownHosts  = "sftp_known_hosts_file"
	SetSFTPDir         = "sftp_dir"
	SetSFTPFiles       = "sftp_files"
	SetSFTPMissingFile = "sftp_missing_file"
	SetSFTPTimeout     = "sftp_timeout"
)

// Values of sftp_files: which files FetchSettlement reads.
const (
	FilesTransactions = "transactions" // PID_fptrade_YYYYMMDD.csv: every payment and refund of the day
	FilesSettlement   = "settlement"   // PID_YYYYMMDD.zip: what was settled that day
)

// MaxSettlementDays bounds one FetchSettlement range.
const MaxSettlementDays = 92

func sftpSettings() []core.Setting {
	return []core.Setting{
		{Name: SetSFTPAddr, Description: "AlipayHK SFTP server host:port (port 22 when omitted); reconciliation is off without it"},
		{Name: SetSFTPUser, Description: "SFTP user name given by AlipayHK; required with sftp_addr"},
		{Name: SetSFTPKeyFile, Secret: true, Description: "SSH private key (OpenSSH or PEM) for the SFTP user, a file path or the key itself; this or sftp_password is required with sftp_addr"},
		{Name: SetSFTPPassword, Secret: true, Description: "SFTP password (AlipayHK hands out user name and password)"},
		{Name: SetSFTPKnownHosts, Description: "known_hosts file listing the server's host key; required with sftp_addr (host keys are always checked)"},
		{Name: SetSFTPDir, Description: "remote directory holding the files (default: the login directory)"},
		{Name: SetSFTPFiles, Description: "transactions (PID_fptrade_YYYYMMDD.csv, default) or settlement (PID_YYYYMMDD.zip)"},
		{Name: SetSFTPMissingFile, Description: "error (default) or skip: what a day without a file means (whether AlipayHK writes empty files is unconfirmed)"},
		{Name: SetSFTPTimeout, Description: "deadline of one reconciliation fetch, e.g. 10m (default 10m)"},
	}
}

// sftpConfig is an account's parsed SFTP settings; nil when reconciliation is not configured.
type sftpConfig struct {
	addr      string
	user      string
	auth      []ssh.AuthMethod
	hostKeyCB ssh.HostKeyCallback
	algos     []string // host key algorithms known_hosts has for addr, so that negotiation picks one we can check
	dir       string
	files     string
	skipMiss  bool
	timeout   time.Duration
	dialLimit time.Duration
}

func (c *sftpConfig) String() string { return "sftp(" + c.user + "@" + c.addr + ":" + c.dir + ")" }

// parseSFTP validates the SFTP settings. Without sftp_addr the other SFTP settings must be absent
// too, so that a half-configured account is an error rather than silently unreconciled.
func parseSFTP(raw map[string]string) (*sftpConfig, error) {
	get := func(k string) string { return strings.TrimSpace(raw[k]) }
	if get(SetSFTPAddr) == "" {
		for _, k := range mapi.SettingNames(sftpSettings()) {
			if get(k) != "" {
				return nil, core.Errorf(core.ECONFIG, "setting %s is set but %s is not", k, SetSFTPAddr)
			}
		}
		return nil, nil
	}
	c := &sftpConfig{addr: get(SetSFTPAddr), user: get(SetSFTPUser), dir: get(SetSFTPDir), dialLimit: 30 * time.Second}
	if _, _, err := net.SplitHostPort(c.addr); err != nil {
		if strings.Contains(c.addr, ":") && !strings.HasPrefix(c.addr, "[") && strings.Count(c.addr, ":") == 1 {
			return nil, core.Errorf(core.ECONFIG, "setting %s must be host or host:port, got %q", SetSFTPAddr, c.addr)
		}
		c.addr = net.JoinHostPort(strings.Trim(c.addr, "[]"), "22")
	}
	if c.user == "" {
		return nil, core.Errorf(core.ECONFIG, "setting %s is required with %s", SetSFTPUser, SetSFTPAddr)
	}
	if k := get(SetSFTPKeyFile); k != "" {
		data := []byte(k)
		if !strings.HasPrefix(k, "-----BEGIN") {
			b, err := os.ReadFile(k)
			if err != nil {
				return nil, mapi.KeyFileError(SetSFTPKeyFile, err)
			}
			data = b
		}
		signer, err := ssh.ParsePrivateKey(data)
		if err != nil {
			var pm *ssh.PassphraseMissingError
			if errors.As(err, &pm) {
				return nil, core.Errorf(core.ECONFIG, "setting %s: the key is passphrase-protected; give an unencrypted key", SetSFTPKeyFile)
			}
			return nil, core.Errorf(core.ECONFIG, "setting %s: not an SSH private key", SetSFTPKeyFile)
		}
		c.auth = append(c.auth, ssh.PublicKeys(signer))
	}
	if p := raw[SetSFTPPassword]; p != "" {
		c.auth = append(c.auth, ssh.Password(p))
	}
	if len(c.auth) == 0 {
		return nil, core.Errorf(core.ECONFIG, "setting %s or %s is required with %s", SetSFTPKeyFile, SetSFTPPassword, SetSFTPAddr)
	}
	kh := get(SetSFTPKnownHosts)
	if kh == "" {
		return nil, core.Errorf(core.ECONFIG, "setting %s is required with %s: the server's host key is always checked", SetSFTPKnownHosts, SetSFTPAddr)
	}
	cb, err := knownhosts.New(kh)
	if err != nil {
		return nil, core.WrapError(core.ECONFIG, err, "setting %s: cannot read or parse the known_hosts file", SetSFTPKnownHosts)
	}
	c.hostKeyCB = cb
	if c.algos = knownAlgorithms(cb, c.addr); len(c.algos) == 0 {
		return nil, core.Errorf(core.ECONFIG, "setting %s: no host key listed for %s", SetSFTPKnownHosts, knownhosts.Normalize(c.addr))
	}
	if c.files, err = mapi.ParseEnum(raw, SetSFTPFiles, FilesTransactions, FilesTransactions, FilesSettlement); err != nil {
		return nil, err
	}
	miss, err := mapi.ParseEnum(raw, SetSFTPMissingFile, "error", "error", "skip")
	if err != nil {
		return nil, err
	}
	c.skipMiss = miss == "skip"
	c.timeout = 10 * time.Minute
	if v := get(SetSFTPTimeout); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 || d > time.Hour {
			return nil, core.Errorf(core.ECONFIG, "setting %s must be a duration between 0 and 1h, got %q", SetSFTPTimeout, v)
		}
		c.timeout = d
	}
	return c, nil
}

// probeKey is a throw-away key offered to the known_hosts callback only to learn, from its
// KeyError, which keys the file lists for a host.
var probeKey = func() ssh.PublicKey {
	pub, _, _ := ed25519.GenerateKey(zeroReader{})
	k, _ := ssh.NewPublicKey(pub)
	return k
}()

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

type textAddr string

func (a textAddr) Network() string { return "tcp" }
func (a textAddr) String() string  { return string(a) }

// knownAlgorithms returns the host key algorithms known_hosts holds for addr. Offering only
// these makes the server present a key we can check, instead of failing on a key type mismatch.
func knownAlgorithms(cb ssh.HostKeyCallback, addr string) []string {
	var ke *knownhosts.KeyError
	if err := cb(addr, textAddr(addr), probeKey); !errors.As(err, &ke) {
		return nil
	}
	var out []string
	for _, k := range ke.Want {
		t := k.Key.Type()
		switch t {
		case ssh.KeyAlgoRSA:
			out = append(out, ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA)
		default:
			out = append(out, t)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// sftpSession is one SSH connection with its SFTP client.
type sftpSession struct {
	conn   net.Conn
	ssh    *ssh.Client
	client *sftp.Client
	stop   func() bool
}

// dial connects and authenticates within the dial limit and ctx. Closing the session (or ctx
// ending) closes the connection, which unblocks any transfer in flight.
func (c *sftpConfig) dial(ctx context.Context) (*sftpSession, error) {
	dctx, cancel := context.WithTimeout(ctx, c.dialLimit)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(dctx, "tcp", c.addr)
	if err != nil {
		return nil, core.WrapError(core.EUNAVAILABLE, err, "cannot reach the SFTP server %s", c.addr)
	}
	if dl, ok := dctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stopHandshake := context.AfterFunc(dctx, func() { conn.Close() })
	cfg := &ssh.ClientConfig{
		User:              c.user,
		Auth:              c.auth,
		HostKeyCallback:   c.hostKeyCB,
		HostKeyAlgorithms: c.algos,
		Timeout:           c.dialLimit,
	}
	sc, chans, reqs, err := ssh.NewClientConn(conn, c.addr, cfg)
	stopHandshake()
	if err != nil {
		conn.Close()
		var ke *knownhosts.KeyError
		if errors.As(err, &ke) || strings.Contains(err.Error(), "knownhosts") {
			return nil, core.WrapError(core.ECONFIG, err, "the SFTP server's host key is not the one in %s", SetSFTPKnownHosts)
		}
		if strings.Contains(err.Error(), "unable to authenticate") {
			return nil, core.WrapError(core.ECONFIG, err, "the SFTP server refused user %s", c.user)
		}
		return nil, core.WrapError(core.EUNAVAILABLE, err, "SSH handshake with %s failed", c.addr)
	}
	_ = conn.SetDeadline(time.Time{})
	client := ssh.NewClient(sc, chans, reqs)
	s := &sftpSession{conn: conn, ssh: client, stop: context.AfterFunc(ctx, func() { conn.Close() })}
	if s.client, err = sftp.NewClient(client); err != nil {
		s.close()
		return nil, core.WrapError(core.EUNAVAILABLE, err, "SFTP subsystem on %s failed", c.addr)
	}
	return s, nil
}

func (s *sftpSession) close() {
	s.stop()
	if s.client != nil {
		s.client.Close()
	}
	s.ssh.Close()
}

// remoteFile is one reconciliation file found on the server.
type remoteFile struct {
	Path string
	Day  time.Time // the date in the name, midnight HK time
	Size int64
}

// fileName returns the expected name of a day's file.
func (c *sftpConfig) fileName(partner string, day time.Time) string {
	d := day.In(HongKong).Format("20060102")
	if c.files == FilesSettlement {
		return partner + "_" + d + ".zip"
	}
	return partner + "_fptrade_" + d + ".csv"
}

var dayRE = regexp.MustCompile(`_(\d{8})\.(csv|zip)$`)

// days lists the HK calendar days from..to inclusive.
func days(from, to time.Time) ([]time.Time, error) {
	f := from.In(HongKong)
	t := to.In(HongKong)
	start := time.Date(f.Year(), f.Month(), f.Day(), 0, 0, 0, 0, HongKong)
	end := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, HongKong)
	if end.Before(start) {
		return nil, core.Errorf(core.EINVALID, "settlement range ends (%s) before it starts (%s)", end.Format(time.DateOnly), start.Format(time.DateOnly))
	}
	var out []time.Time
	for d := start; !d.After(end); d = d.AddDate(0, 0, 1) {
		if len(out) == MaxSettlementDays {
			return nil, core.Errorf(core.EINVALID, "settlement range is over %d days", MaxSettlementDays)
		}
		out = append(out, d)
	}
	return out, nil
}

// list returns the files for the days in from..to, in date order. It lists the directory once
// rather than probing each name. A day without its file is an error unless skipMiss.
func (c *sftpConfig) list(s *sftpSession, partner string, from, to time.Time) ([]remoteFile, error) {
	want, err := days(from, to)
	if err != nil {
		return nil, err
	}
	dir := c.dir
	if dir == "" {
		dir = "."
	}
	entries, err := s.client.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, core.WrapError(core.ECONFIG, err, "setting %s: directory %q does not exist on the SFTP server", SetSFTPDir, dir)
		}
		return nil, core.WrapError(core.EUNAVAILABLE, err, "cannot list %q on the SFTP server", dir)
	}
	byName := map[string]os.FileInfo{}
	for _, e := range entries {
		if e.Mode().IsRegular() && dayRE.MatchString(e.Name()) {
			byName[e.Name()] = e
		}
	}
	var out []remoteFile
	for _, d := range want {
		name := c.fileName(partner, d)
		fi, ok := byName[name]
		if !ok {
			if c.skipMiss {
				continue
			}
			return nil, core.Errorf(core.ENOTFOUND, "reconciliation file %s is not on the SFTP server (yet)", name)
		}
		out = append(out, remoteFile{Path: path.Join(dir, name), Day: d, Size: fi.Size()})
	}
	return out, nil
}

// fetch streams the records of every file in from..to, in date order and file order.
func (c *sftpConfig) fetch(ctx context.Context, partner string, from, to time.Time, limits ZipLimits, yield func(*core.SettlementRecord) error) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	s, err := c.dial(ctx)
	if err != nil {
		return err
	}
	defer s.close()
	files, err := c.list(s, partner, from, to)
	if err != nil {
		return ctxErr(ctx, err)
	}
	for _, rf := range files {
		if err := c.readFile(s, rf, partner, limits, yield); err != nil {
			return ctxErr(ctx, err)
		}
	}
	return nil
}

// yieldError marks an error returned by the caller's yield, which is passed back unchanged.
type yieldError struct{ err error }

func (e *yieldError) Error() string { return e.err.Error() }
func (e *yieldError) Unwrap() error { return e.err }

func (c *sftpConfig) readFile(s *sftpSession, rf remoteFile, partner string, limits ZipLimits, yield func(*core.SettlementRecord) error) error {
	f, err := s.client.Open(rf.Path)
	if err != nil {
		return core.WrapError(core.EUNAVAILABLE, err, "cannot open %s on the SFTP server", path.Base(rf.Path))
	}
	defer f.Close()
	wrapped := func(r *core.SettlementRecord) error {
		if err := yield(r); err != nil {
			return &yieldError{err}
		}
		return nil
	}
	if c.files == FilesSettlement {
		// archive/zip reads the directory at the end through ReadAt: the file is read in place
		// on the server, never copied whole.
		err = ReadSettlementZip(f, rf.Size, partner, limits, wrapped)
	} else {
		// A transaction file is streamed, but one without end must not run for the whole
		// deadline: it gets the archive's total budget, and passing it is an error rather than
		// a silently cut file.
		if rf.Size > limits.MaxTotalBytes {
			return core.Errorf(core.EUNAVAILABLE, "reconciliation file %s has %d bytes, over the %d limit", path.Base(rf.Path), rf.Size, limits.MaxTotalBytes)
		}
		err = ReadTransactionFile(&capFile{r: f, left: limits.MaxTotalBytes}, wrapped)
		if errors.Is(err, ErrZipLimit) {
			return core.WrapError(core.EUNAVAILABLE, err, "reconciliation file %s grew past the %d byte limit while read", path.Base(rf.Path), limits.MaxTotalBytes)
		}
	}
	var ye *yieldError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ye):
		return ye.err
	case core.ErrorCode(err) != core.EINTERNAL:
		return err
	case isNetErr(err):
		return core.WrapError(core.EUNAVAILABLE, err, "reading %s from the SFTP server failed", path.Base(rf.Path))
	}
	// The file was read but is malformed: reconciling it would give a wrong report.
	return core.WrapError(core.EINVALID, err, "reconciliation file %s is malformed: %s", path.Base(rf.Path), clip(err.Error(), 300))
}

// capFile fails with ErrZipLimit once a file yields more than left bytes (its size was checked
// by Stat, but the server may keep writing).
type capFile struct {
	r    io.Reader
	left int64
}

func (c *capFile) Read(p []byte) (int, error) {
	if c.left <= 0 {
		var one [1]byte
		if n, err := c.r.Read(one[:]); n > 0 {
			return 0, fmt.Errorf("file over its size limit: %w", ErrZipLimit)
		} else {
			return 0, err
		}
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

func isNetErr(err error) bool {
	var ne net.Error
	var se *sftp.StatusError
	// io.EOF inside the chain: pkg/sftp reports a request sent on a channel that has closed as
	// "failed to send packet: EOF" (wrapped); the readers here end a file with a bare io.EOF
	// that never gets this far.
	return errors.As(err, &ne) || errors.As(err, &se) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, sftp.ErrSSHFxConnectionLost)
}

// ctxErr turns the symptom of a connection closed by ctx into the ctx's own error.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil && core.ErrorCode(err) == core.EUNAVAILABLE {
		return core.WrapError(core.EUNAVAILABLE, ctx.Err(), "reconciliation fetch stopped: %v", ctx.Err())
	}
	return err
}

func clip(s string, n int) string {
	s = strings.ToValidUTF8(s, "?")
	if len(s) > n {
		s = strings.ToValidUTF8(s[:n], "") + "..."
	}
	return s
}
