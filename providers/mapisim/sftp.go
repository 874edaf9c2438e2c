package mapisim

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// SFTPConfig configures the AlipayHK reconciliation SFTP server (alipayhk.md §14.1).
type SFTPConfig struct {
	// HostKeyPEM is the server's private host key (OpenSSH or PEM). nil means the committed
	// throw-away TestSFTPHostKeyPEM.
	HostKeyPEM []byte
	// AuthorizedKeys lists the client public keys allowed to log in (authorized_keys format).
	// nil means TestSFTPClientAuthorizedKey.
	AuthorizedKeys []byte
	// Passwords optionally allows password logins: user (partner id) -> password.
	Passwords map[string]string
}

// SFTPServer serves each AlipayHK partner's files, generated from the simulator's state, in its
// login directory: `<PID>_fptrade_<YYYYMMDD>.csv` for every day with a payment or refund up to
// today, and `<PID>_<YYYYMMDD>.zip` for every day something settled. The user name is the
// partner id. The server is read-only.
type SFTPServer struct {
	sim    *Sim
	ln     net.Listener
	config *ssh.ServerConfig
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// StartSFTP listens on addr (e.g. "127.0.0.1:0") and serves until Close.
func (s *Sim) StartSFTP(addr string, cfg SFTPConfig) (*SFTPServer, error) {
	hostPEM := cfg.HostKeyPEM
	if hostPEM == nil {
		hostPEM = TestSFTPHostKeyPEM
	}
	hostKey, err := ssh.ParsePrivateKey(hostPEM)
	if err != nil {
		return nil, fmt.Errorf("mapisim: SFTP host key does not parse: %w", err)
	}
	authPEM := cfg.AuthorizedKeys
	if authPEM == nil {
		authPEM = TestSFTPClientAuthorizedKey
	}
	var authorized [][]byte
	for rest := authPEM; len(bytes.TrimSpace(rest)) > 0; {
		k, _, _, r, err := ssh.ParseAuthorizedKey(rest)
		if err != nil {
			return nil, fmt.Errorf("mapisim: SFTP authorized keys: %w", err)
		}
		authorized = append(authorized, k.Marshal())
		rest = r
	}
	srv := &SFTPServer{sim: s, conns: map[net.Conn]struct{}{}}
	srv.config = &ssh.ServerConfig{
		PublicKeyCallback: func(c ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if !s.isHKPartner(c.User()) {
				return nil, errors.New("unknown user")
			}
			m := key.Marshal()
			for _, a := range authorized {
				if bytes.Equal(a, m) {
					return &ssh.Permissions{}, nil
				}
			}
			return nil, errors.New("key not authorized")
		},
	}
	if len(cfg.Passwords) > 0 {
		srv.config.PasswordCallback = func(c ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
			want, ok := cfg.Passwords[c.User()]
			if ok && s.isHKPartner(c.User()) && want != "" && want == string(pw) {
				return &ssh.Permissions{}, nil
			}
			return nil, errors.New("wrong password")
		}
	}
	srv.config.AddHostKey(hostKey)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("mapisim: SFTP listen: %w", err)
	}
	srv.ln = ln
	srv.wg.Add(1)
	go srv.serve()
	return srv, nil
}

func (s *Sim) isHKPartner(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.partners[id]
	return p != nil && p.Flavour == FlavourHK
}

// Addr is the listening address.
func (srv *SFTPServer) Addr() string { return srv.ln.Addr().String() }

// HostPublicKey returns the host key for known_hosts checks.
func HostPublicKey(hostKeyPEM []byte) (ssh.PublicKey, error) {
	if hostKeyPEM == nil {
		hostKeyPEM = TestSFTPHostKeyPEM
	}
	k, err := ssh.ParsePrivateKey(hostKeyPEM)
	if err != nil {
		return nil, err
	}
	return k.PublicKey(), nil
}

// Close stops listening, closes every connection and waits for them.
func (srv *SFTPServer) Close() error {
	srv.mu.Lock()
	srv.closed = true
	for c := range srv.conns {
		c.Close()
	}
	srv.mu.Unlock()
	err := srv.ln.Close()
	srv.wg.Wait()
	return err
}

func (srv *SFTPServer) serve() {
	defer srv.wg.Done()
	for {
		conn, err := srv.ln.Accept()
		if err != nil {
			return
		}
		srv.mu.Lock()
		if srv.closed {
			srv.mu.Unlock()
			conn.Close()
			return
		}
		srv.conns[conn] = struct{}{}
		srv.mu.Unlock()
		srv.wg.Add(1)
		go func() {
			defer srv.wg.Done()
			defer func() {
				srv.mu.Lock()
				delete(srv.conns, conn)
				srv.mu.Unlock()
				conn.Close()
			}()
			srv.handle(conn)
		}()
	}
}

func (srv *SFTPServer) handle(conn net.Conn) {
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	sc, chans, reqs, err := ssh.NewServerConn(conn, srv.config)
	if err != nil {
		return
	}
	conn.SetDeadline(time.Time{})
	defer sc.Close()
	go ssh.DiscardRequests(reqs)
	user := sc.User()
	for nc := range chans {
		if nc.ChannelType() != "session" {
			nc.Reject(ssh.UnknownChannelType, "only session channels")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			return
		}
		srv.wg.Add(1)
		go func() {
			defer srv.wg.Done()
			defer ch.Close()
			for req := range creqs {
				ok := req.Type == "subsystem" && len(req.Payload) >= 4 && string(req.Payload[4:]) == "sftp"
				req.Reply(ok, nil)
				if !ok {
					continue
				}
				h := &reconFS{sim: srv.sim, partner: user}
				rs := sftp.NewRequestServer(ch, sftp.Handlers{FileGet: h, FilePut: h, FileCmd: h, FileList: h})
				rs.Serve()
				rs.Close()
				return
			}
		}()
	}
}

// reconFS is the read-only file system of one partner.
type reconFS struct {
	sim     *Sim
	partner string
}

type memFile struct {
	name string
	data []byte
	mod  time.Time
}

func (f *memFile) Name() string       { return f.name }
func (f *memFile) Size() int64        { return int64(len(f.data)) }
func (f *memFile) Mode() os.FileMode  { return 0o444 }
func (f *memFile) ModTime() time.Time { return f.mod }
func (f *memFile) IsDir() bool        { return false }
func (f *memFile) Sys() any           { return nil }

type dirInfo struct{ name string }

func (d dirInfo) Name() string       { return d.name }
func (d dirInfo) Size() int64        { return 0 }
func (d dirInfo) Mode() os.FileMode  { return os.ModeDir | 0o555 }
func (d dirInfo) ModTime() time.Time { return time.Time{} }
func (d dirInfo) IsDir() bool        { return true }
func (d dirInfo) Sys() any           { return nil }

// ReconFiles returns the reconciliation files of an AlipayHK partner as the SFTP server
// offers them, by name.
func (s *Sim) ReconFiles(partner string) map[string][]byte {
	out := map[string][]byte{}
	for _, f := range s.reconFiles(partner) {
		out[f.name] = f.data
	}
	return out
}

func (s *Sim) reconFiles(partner string) []*memFile {
	s.mu.Lock()
	today := dayStart(s.now())
	days := map[time.Time]bool{}
	settleDays := map[time.Time]bool{}
	for _, r := range s.rowsLocked(partner, time.Time{}, today.AddDate(0, 0, 1)) {
		days[dayStart(r.txTime)] = true
		if !r.settleTime.IsZero() {
			settleDays[dayStart(r.settleTime)] = true
		}
	}
	s.mu.Unlock()
	var files []*memFile
	for d := range days {
		files = append(files, &memFile{name: fmt.Sprintf("%s_fptrade_%s.csv", partner, d.Format(fileDay)),
			data: s.FPTradeCSV(partner, d), mod: d.AddDate(0, 0, 1).Add(9 * time.Hour)})
	}
	for d := range settleDays {
		if data, ok, err := s.SettlementZip(partner, d); err == nil && ok {
			files = append(files, &memFile{name: fmt.Sprintf("%s_%s.zip", partner, d.Format(fileDay)), data: data, mod: d.Add(10 * time.Hour)})
		}
	}
	slices.SortFunc(files, func(a, b *memFile) int { return strings.Compare(a.name, b.name) })
	return files
}

func (h *reconFS) lookup(p string) *memFile {
	name := path.Base(path.Clean("/" + p))
	if path.Dir(path.Clean("/"+p)) != "/" {
		return nil
	}
	for _, f := range h.sim.reconFiles(h.partner) {
		if f.name == name {
			return f
		}
	}
	return nil
}

func (h *reconFS) Fileread(r *sftp.Request) (io.ReaderAt, error) {
	f := h.lookup(r.Filepath)
	if f == nil {
		return nil, os.ErrNotExist
	}
	return bytes.NewReader(f.data), nil
}

func (h *reconFS) Filewrite(*sftp.Request) (io.WriterAt, error) {
	return nil, sftp.ErrSSHFxPermissionDenied
}
func (h *reconFS) Filecmd(*sftp.Request) error { return sftp.ErrSSHFxPermissionDenied }

type listerAt []os.FileInfo

func (l listerAt) ListAt(out []os.FileInfo, off int64) (int, error) {
	if off >= int64(len(l)) {
		return 0, io.EOF
	}
	n := copy(out, l[off:])
	if n < len(out) {
		return n, io.EOF
	}
	return n, nil
}

func (h *reconFS) Filelist(r *sftp.Request) (sftp.ListerAt, error) {
	clean := path.Clean("/" + r.Filepath)
	switch r.Method {
	case "List":
		if clean != "/" {
			return nil, os.ErrNotExist
		}
		files := h.sim.reconFiles(h.partner)
		out := make(listerAt, len(files))
		for i, f := range files {
			out[i] = f
		}
		return out, nil
	case "Stat", "Lstat":
		if clean == "/" {
			return listerAt{dirInfo{name: "/"}}, nil
		}
		if f := h.lookup(clean); f != nil {
			return listerAt{f}, nil
		}
		return nil, os.ErrNotExist
	}
	return nil, sftp.ErrSSHFxOpUnsupported
}
