package alipayhk

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/paymux/paymux/core"
)

// testSFTP is an SFTP server on 127.0.0.1:0 serving dir read-only, for one user with a public key
// or a password.
type testSFTP struct {
	Addr       string
	Dir        string
	HostKey    ssh.PublicKey
	ClientKey  string // path of the client's private key (OpenSSH PEM)
	KnownHosts string // path of a known_hosts file listing HostKey for Addr
	Password   string
	ln         net.Listener
	wg         sync.WaitGroup
	mu         sync.Mutex
	conns      []net.Conn
}

func newKey(t testing.TB) (ssh.Signer, []byte) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "test-sftp-key-DO-NOT-USE")
	if err != nil {
		t.Fatal(err)
	}
	return signer, pem.EncodeToMemory(block)
}

func startSFTP(t testing.TB, dir string) *testSFTP {
	t.Helper()
	hostSigner, _ := newKey(t)
	clientSigner, clientPEM := newKey(t)
	tmp := t.TempDir()
	s := &testSFTP{Dir: dir, HostKey: hostSigner.PublicKey(), Password: "test-sftp-password-DO-NOT-USE",
		ClientKey: filepath.Join(tmp, "test-sftp-client-DO-NOT-USE.key"), KnownHosts: filepath.Join(tmp, "known_hosts")}
	if err := os.WriteFile(s.ClientKey, clientPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
			if string(k.Marshal()) == string(clientSigner.PublicKey().Marshal()) {
				return nil, nil
			}
			return nil, errors.New("unknown key")
		},
		PasswordCallback: func(_ ssh.ConnMetadata, p []byte) (*ssh.Permissions, error) {
			if string(p) == s.Password {
				return nil, nil
			}
			return nil, errors.New("wrong password")
		},
	}
	cfg.AddHostKey(hostSigner)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.ln, s.Addr = ln, ln.Addr().String()
	if err := os.WriteFile(s.KnownHosts, []byte(knownhosts.Line([]string{s.Addr}, s.HostKey)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
			s.wg.Add(1)
			go func() { defer s.wg.Done(); s.serve(c, cfg) }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		for _, c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

func (s *testSFTP) serve(c net.Conn, cfg *ssh.ServerConfig) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	_, chans, reqs, err := ssh.NewServerConn(c, cfg)
	if err != nil {
		return
	}
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "session only")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			return
		}
		go func() {
			for r := range creqs {
				ok := r.Type == "subsystem" && string(r.Payload[4:]) == "sftp"
				_ = r.Reply(ok, nil)
				if ok {
					srv, err := sftp.NewServer(ch, sftp.WithServerWorkingDirectory(s.Dir), sftp.ReadOnly())
					if err == nil {
						_ = srv.Serve()
						srv.Close()
					}
					ch.Close()
				}
			}
		}()
	}
}

// settings returns the SFTP settings for this server.
func (s *testSFTP) settings(extra ...string) map[string]string {
	m := map[string]string{
		SetSFTPAddr: s.Addr, SetSFTPUser: "merchant", SetSFTPKeyFile: s.ClientKey,
		SetSFTPKnownHosts: s.KnownHosts,
	}
	for i := 0; i+1 < len(extra); i += 2 {
		m[extra[i]] = extra[i+1]
	}
	return m
}

// reconDir copies the golden files into a directory laid out as on AlipayHK's server.
func reconDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	for src, dst := range map[string]string{
		"2088101122136241_fptrade_20261120.csv": "2088101122136241_fptrade_20261120.csv",
		"gbk_fptrade.csv":                       "2088101122136241_fptrade_20261121.csv",
		"2088101122136241_20261123.zip":         "2088101122136241_20261123.zip",
	} {
		data, err := os.ReadFile(filepath.Join("testdata", src))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, dst), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A file of another partner, which must never be read.
	if err := os.WriteFile(filepath.Join(dir, "2088000000000001_fptrade_20261120.csv"), []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func hkDay(d int) time.Time { return time.Date(2026, 11, d, 0, 0, 0, 0, HongKong) }

func fetchAll(t *testing.T, raw map[string]string, from, to time.Time) ([]*core.SettlementRecord, error) {
	t.Helper()
	c, err := parseSFTP(raw)
	if err != nil {
		t.Fatal(err)
	}
	var out []*core.SettlementRecord
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = c.fetch(ctx, "2088101122136241", from, to, DefaultZipLimits, func(r *core.SettlementRecord) error {
		out = append(out, r)
		return nil
	})
	return out, err
}

func TestSFTPFetch(t *testing.T) {
	srv := startSFTP(t, reconDir(t))
	for _, tc := range []struct {
		name     string
		extra    []string
		from, to time.Time
		want     int
		wantCode string
	}{
		{"one day, key", nil, hkDay(20), hkDay(20), 5, ""},
		{"two days, UTF-8 then GBK", nil, hkDay(20), hkDay(21), 10, ""},
		{"password", []string{SetSFTPKeyFile, "", SetSFTPPassword, srv.Password}, hkDay(20), hkDay(20), 5, ""},
		{"absolute dir", []string{SetSFTPDir, srv.Dir}, hkDay(21), hkDay(21), 5, ""},
		{"missing day is an error", nil, hkDay(20), hkDay(22), 0, core.ENOTFOUND},
		{"missing day skipped", []string{SetSFTPMissingFile, "skip"}, hkDay(19), hkDay(22), 10, ""},
		{"settlement zip", []string{SetSFTPFiles, FilesSettlement}, hkDay(23), hkDay(23), 3, ""},
		{"range reversed", nil, hkDay(21), hkDay(20), 0, core.EINVALID},
		{"range too long", nil, hkDay(1), hkDay(1).AddDate(0, 4, 0), 0, core.EINVALID},
		{"no such dir", []string{SetSFTPDir, "nope"}, hkDay(20), hkDay(20), 0, core.ECONFIG},
		{"wrong password", []string{SetSFTPKeyFile, "", SetSFTPPassword, "wrong"}, hkDay(20), hkDay(20), 0, core.ECONFIG},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recs, err := fetchAll(t, srv.settings(tc.extra...), tc.from, tc.to)
			if tc.wantCode != "" {
				if core.ErrorCode(err) != tc.wantCode {
					t.Fatalf("error = %v, want code %s", err, tc.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != tc.want {
				t.Fatalf("got %d records, want %d", len(recs), tc.want)
			}
			if recs[0].Reference != "HK20261120001" {
				t.Errorf("first record %+v", recs[0])
			}
		})
	}
}

func TestSFTPHostKeyAlwaysChecked(t *testing.T) {
	srv := startSFTP(t, reconDir(t))
	other, _ := newKey(t)
	bad := filepath.Join(t.TempDir(), "known_hosts")
	// The right host with another key; and a file that does not list the host at all.
	if err := os.WriteFile(bad, []byte(knownhosts.Line([]string{srv.Addr}, other.PublicKey())+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := fetchAll(t, srv.settings(SetSFTPKnownHosts, bad), hkDay(20), hkDay(20))
	if core.ErrorCode(err) != core.ECONFIG || !strings.Contains(core.ErrorMessage(err), "host key") {
		t.Fatalf("error = %v, want a host key config error", err)
	}
	unlisted := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(unlisted, []byte(knownhosts.Line([]string{"10.0.0.1:22"}, srv.HostKey)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := parseSFTP(srv.settings(SetSFTPKnownHosts, unlisted)); core.ErrorCode(err) != core.ECONFIG {
		t.Fatalf("known_hosts without the host: error = %v, want ECONFIG", err)
	}
}

func TestSFTPYieldErrorAndCancel(t *testing.T) {
	srv := startSFTP(t, reconDir(t))
	c, err := parseSFTP(srv.settings())
	if err != nil {
		t.Fatal(err)
	}
	stop := errors.New("stop")
	err = c.fetch(context.Background(), "2088101122136241", hkDay(20), hkDay(21), DefaultZipLimits, func(*core.SettlementRecord) error { return stop })
	if err != stop {
		t.Fatalf("error = %v, want the yield error unchanged", err)
	}
	// Cancelled before: nothing is dialled.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.fetch(ctx, "2088101122136241", hkDay(20), hkDay(20), DefaultZipLimits, func(*core.SettlementRecord) error { return nil }); core.ErrorCode(err) != core.EUNAVAILABLE {
		t.Fatalf("cancelled fetch: error = %v, want EUNAVAILABLE", err)
	}
	// Cancelled in the middle of a large file: the connection closes under the reader.
	var big strings.Builder
	big.WriteString("Partner_transaction_id,Transaction_id,Amount,Fee,,Settlement,Currency,Payment_time,Settlement_time,Issue,Product,Type,Status,Remarks,original_partner_transaction_ID\n")
	const rows = 60000
	for i := 0; i < rows; i++ {
		big.WriteString("HK2026112500001,2026112522001300001000000001,100.00,1.80,,98.20,HKD,2026-11-25 10:15:02,,ALIPAYHK,Cross_wap,P,P,,\n")
	}
	if err := os.WriteFile(filepath.Join(srv.Dir, "2088101122136241_fptrade_20261125.csv"), []byte(big.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	n := 0
	err = c.fetch(ctx, "2088101122136241", hkDay(25), hkDay(25), DefaultZipLimits, func(*core.SettlementRecord) error {
		if n++; n == 10 {
			cancel()
		}
		return nil
	})
	if core.ErrorCode(err) != core.EUNAVAILABLE || n >= rows {
		t.Fatalf("after cancel: %d of %d records, error %v; want EUNAVAILABLE before the end", n, rows, err)
	}
}

func TestParseSFTPSettings(t *testing.T) {
	srv := startSFTP(t, t.TempDir())
	for _, tc := range []struct {
		name  string
		raw   map[string]string
		want  string // substring of the message; "" means valid
		notIn string // must not appear in the message (secrets)
	}{
		{"none", map[string]string{}, "", ""},
		{"half configured", map[string]string{SetSFTPUser: "u"}, "sftp_user is set but sftp_addr is not", ""},
		{"no user", srv.settings(SetSFTPUser, ""), "sftp_user is required", ""},
		{"no auth", srv.settings(SetSFTPKeyFile, ""), "sftp_private_key_file or sftp_password is required", ""},
		{"no known hosts", srv.settings(SetSFTPKnownHosts, ""), "host key is always checked", ""},
		{"unreadable known hosts", srv.settings(SetSFTPKnownHosts, "/nonexistent/known_hosts"), "sftp_known_hosts_file", ""},
		{"bad key", srv.settings(SetSFTPKeyFile, "-----BEGIN OPENSSH PRIVATE KEY-----\nc2VjcmV0LXN0dWZm\n-----END OPENSSH PRIVATE KEY-----"), "not an SSH private key", "c2VjcmV0"},
		{"missing key file", srv.settings(SetSFTPKeyFile, "/nonexistent/key"), "neither a key nor a readable key file (no such file)", ""},
		// A key pasted without its BEGIN line is read as a path: the error must not quote it.
		{"pasted key, not a path", srv.settings(SetSFTPKeyFile, "b3BlbnNzaC1rZXktdjEAAAAA SECRET-SFTP-KEY-MARKER"), "neither a key nor a readable key file", "SECRET-SFTP-KEY-MARKER"},
		{"bad files", srv.settings(SetSFTPFiles, "both"), "sftp_files must be one of", ""},
		{"bad missing", srv.settings(SetSFTPMissingFile, "ignore"), "sftp_missing_file", ""},
		{"bad timeout", srv.settings(SetSFTPTimeout, "2h"), "sftp_timeout", ""},
		{"bad addr", srv.settings(SetSFTPAddr, "host:port:x"), "", ""}, // taken as a host name; fails at known_hosts
		{"valid", srv.settings(), "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseSFTP(tc.raw)
			if tc.name == "bad addr" {
				if core.ErrorCode(err) != core.ECONFIG {
					t.Fatalf("error = %v, want ECONFIG", err)
				}
				return
			}
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				if tc.name == "none" && c != nil {
					t.Fatal("config without sftp_addr should be nil")
				}
				return
			}
			if core.ErrorCode(err) != core.ECONFIG || !strings.Contains(core.ErrorMessage(err), tc.want) {
				t.Fatalf("error = %v, want ECONFIG containing %q", err, tc.want)
			}
			if tc.notIn != "" && strings.Contains(err.Error(), tc.notIn) {
				t.Fatalf("error leaks a secret: %v", err)
			}
		})
	}
	if c, err := parseSFTP(map[string]string{SetSFTPAddr: "example.com", SetSFTPUser: "u", SetSFTPPassword: "p", SetSFTPKnownHosts: srv.KnownHosts}); err == nil {
		t.Fatalf("a host not in known_hosts was accepted: %v", c)
	} else if !strings.Contains(err.Error(), "example.com") {
		t.Fatalf("default port: error %v should name the host", err)
	}
}

// TestSFTPTransactionFileBounded: a transaction file over the byte budget is an error, never a
// silently cut file (the cut must not reach the parser as a short last row).
func TestSFTPTransactionFileBounded(t *testing.T) {
	srv := startSFTP(t, reconDir(t))
	c, err := parseSFTP(srv.settings())
	if err != nil {
		t.Fatal(err)
	}
	limits := DefaultZipLimits
	limits.MaxTotalBytes = 100
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	n := 0
	err = c.fetch(ctx, "2088101122136241", hkDay(20), hkDay(20), limits, func(*core.SettlementRecord) error { n++; return nil })
	if core.ErrorCode(err) != core.EUNAVAILABLE || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("file over the budget: %d records, error %v; want EUNAVAILABLE naming the limit", n, err)
	}
	// The reader itself stops a file that grows past its Stat size.
	cf := &capFile{r: strings.NewReader(strings.Repeat("x", 10)), left: 4}
	if b, err := io.ReadAll(cf); !errors.Is(err, ErrZipLimit) || len(b) != 4 {
		t.Fatalf("capFile: %q, %v", b, err)
	}
	cf = &capFile{r: strings.NewReader("abcd"), left: 4}
	if b, err := io.ReadAll(cf); err != nil || string(b) != "abcd" {
		t.Fatalf("capFile at exactly the limit: %q, %v", b, err)
	}
}

// TestClosedChannelMidFileIsUnavailable: a connection that closes while a transaction file is
// read (pkg/sftp: "failed to send packet: EOF") is a transport failure to retry, not a
// malformed file; a file that is itself broken stays malformed. Cancelling a fetch mid-file
// met the first case (TestSFTPYieldErrorAndCancel, once in a CI run: "malformed").
func TestClosedChannelMidFileIsUnavailable(t *testing.T) {
	head := "Partner_transaction_id,Transaction_id,Amount,Fee,,Settlement,Currency,Payment_time,Settlement_time,Issue,Product,Type,Status,Remarks,original_partner_transaction_ID\n"
	row := "HK2026112500001,2026112522001300001000000001,100.00,1.80,,98.20,HKD,2026-11-25 10:15:02,,ALIPAYHK,Cross_wap,P,P,,\n"
	closed := io.MultiReader(strings.NewReader(head+row+row), errReader{fmt.Errorf("failed to send packet: %w", io.EOF)})
	err := ReadTransactionFile(closed, func(*core.SettlementRecord) error { return nil })
	if err == nil || !isNetErr(err) {
		t.Fatalf("closed channel mid-file: %v, isNetErr %v; want a transport error", err, isNetErr(err))
	}
	broken := strings.NewReader(head + row + "HK1,\"unterminated\n")
	err = ReadTransactionFile(broken, func(*core.SettlementRecord) error { return nil })
	if err == nil || isNetErr(err) {
		t.Fatalf("malformed file: %v, isNetErr %v; want a malformed-file error", err, isNetErr(err))
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }
