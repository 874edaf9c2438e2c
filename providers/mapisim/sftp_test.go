package mapisim

import (
	"archive/zip"
	"bytes"
	"encoding/csv"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/paymux/paymux/core/signing"
)

func TestReconciliationFilesAndSFTP(t *testing.T) {
	e := newEnv(t, Config{})
	for _, inst := range []string{"ALIPAYHK", "ALIPAYCN"} {
		p := e.orderParams(hkPID, "HK-"+inst, "100.00", "HKD")
		p["payment_inst"] = inst
		if res, _ := e.sim.PayOrderString(t.Context(), e.orderString(p, signing.RSA)); res.ResultStatus != ResultSuccess {
			t.Fatal(res.Memo)
		}
	}
	if env, body := e.refund(hkPID, map[string]string{"out_trade_no": "HK-ALIPAYHK", "out_return_no": "HKR1", "return_amount": "30.00",
		"currency": "HKD", "is_sync": "Y", "reason": "size", "gmt_return": "2026-11-20 12:00:00"}); env.IsSuccess != "T" {
		t.Fatal(body)
	}
	e.clock.Add(36 * time.Hour) // 2026-11-21 22:00: the 20th has settled at 10:00 on the 21st
	day := time.Date(2026, 11, 20, 0, 0, 0, 0, beijing)

	rows, err := csv.NewReader(bytes.NewReader(e.sim.FPTradeCSV(hkPID, day))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 || len(rows[0]) != 15 || rows[0][0] != "Partner_transaction_id" || rows[0][14] != "original_partner_transaction_ID" {
		t.Fatalf("fptrade: %v", rows)
	}
	byID := map[string][]string{}
	for _, r := range rows[1:] {
		byID[r[0]] = r
	}
	if r := byID["HK-ALIPAYHK"]; r[2] != "100.00" || r[3] != "1.00" || r[5] != "99.00" || r[6] != "HKD" || r[9] != "ALIPAYHK" ||
		r[10] != "Cross_wap" || r[11] != "P" || r[12] != "L" || r[7] != "2026-11-20 10:00:00" || r[8] != "2026-11-21 10:00:00" {
		t.Fatalf("payment row: %v", r)
	}
	if r := byID["HK-ALIPAYCN"]; r[9] != "ALIPAYCN" {
		t.Fatalf("issue column: %v", r)
	}
	if r := byID["HKR1"]; r[11] != "R" || r[2] != "30.00" || r[14] != "HK-ALIPAYHK" {
		t.Fatalf("refund row: %v", r)
	}

	srv, err := e.sim.StartSFTP("127.0.0.1:0", SFTPConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	signer, err := ssh.ParsePrivateKey(TestSFTPClientKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	hostKey, err := HostPublicKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	dial := func(user string, auth ssh.AuthMethod) (*ssh.Client, error) {
		return ssh.Dial("tcp", srv.Addr(), &ssh.ClientConfig{User: user, Auth: []ssh.AuthMethod{auth},
			HostKeyCallback: ssh.FixedHostKey(hostKey), Timeout: 5 * time.Second})
	}
	if _, err := dial(globalPID, ssh.PublicKeys(signer)); err == nil {
		t.Fatal("a global partner logged in to the HK SFTP server")
	}
	if _, err := dial(hkPID, ssh.Password("guess")); err == nil {
		t.Fatal("password login without configured passwords")
	}
	conn, err := dial(hkPID, ssh.PublicKeys(signer))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c, err := sftp.NewClient(conn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	entries, err := c.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, fi := range entries {
		names = append(names, fi.Name())
	}
	want := []string{hkPID + "_20261121.zip", hkPID + "_fptrade_20261120.csv"}
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Fatalf("listing %v, want %v", names, want)
	}
	f, err := c.Open(want[1])
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(f)
	f.Close()
	if !bytes.Equal(data, e.sim.FPTradeCSV(hkPID, day)) {
		t.Fatal("SFTP file differs from FPTradeCSV")
	}
	f, err = c.Open("/" + want[0])
	if err != nil {
		t.Fatal(err)
	}
	zdata, _ := io.ReadAll(f)
	f.Close()
	zr, err := zip.NewReader(bytes.NewReader(zdata), int64(len(zdata)))
	if err != nil {
		t.Fatal(err)
	}
	if len(zr.File) != 2 || zr.File[0].Name != hkPID+"_settlebatch_20261121.csv" || !strings.HasPrefix(zr.File[1].Name, hkPID+"_settle_20261121_") {
		t.Fatalf("zip entries: %v", zr.File)
	}
	rc, _ := zr.File[0].Open()
	batch, _ := csv.NewReader(rc).ReadAll()
	rc.Close()
	// 200.00 paid - 30.00 refunded = 170.00; fees 1 % = 1.70; settlement 168.30.
	if len(batch) != 2 || batch[1][2] != "170.00" || batch[1][3] != "1.70" || batch[1][4] != "168.30" || batch[1][5] != "HKD" {
		t.Fatalf("batch: %v", batch)
	}
	if _, err := c.Create("upload.csv"); err == nil {
		t.Fatal("the server accepted a write")
	}
	if _, err := c.Open("../etc/passwd"); err == nil {
		t.Fatal("path escape")
	}
}

func TestSFTPPasswordAndBadKey(t *testing.T) {
	e := newEnv(t, Config{})
	srv, err := e.sim.StartSFTP("127.0.0.1:0", SFTPConfig{Passwords: map[string]string{hkPID: "test-sftp-password-DO-NOT-USE"}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	hostKey, _ := HostPublicKey(nil)
	cfg := &ssh.ClientConfig{User: hkPID, Auth: []ssh.AuthMethod{ssh.Password("test-sftp-password-DO-NOT-USE")},
		HostKeyCallback: ssh.FixedHostKey(hostKey), Timeout: 5 * time.Second}
	conn, err := ssh.Dial("tcp", srv.Addr(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	if _, err := e.sim.StartSFTP("127.0.0.1:0", SFTPConfig{HostKeyPEM: []byte("nope")}); err == nil {
		t.Fatal("bad host key accepted")
	}
	// A connection that never completes the handshake does not block Close.
	raw, _ := net.Dial("tcp", srv.Addr())
	defer raw.Close()
}

func TestGatewayFiles(t *testing.T) {
	e := newEnv(t, Config{})
	e.paid(globalPID, "F1", "10.00", "USD")
	if env, body := e.refund(globalPID, map[string]string{"out_trade_no": "F1", "out_return_no": "FR1", "return_amount": "2.50", "currency": "USD", "is_sync": "Y"}); env.IsSuccess != "T" {
		t.Fatal(body)
	}
	call := func(service, start, end string) string {
		_, body := e.call(map[string]string{"service": service, "partner": globalPID, "_input_charset": "utf-8", "start_date": start, "end_date": end}, signing.RSA2)
		return body
	}
	// Same day: end date must be before today.
	if b := call("forex_compare_file", "20261120", "20261120"); b != "Finish date not ahead of today" {
		t.Fatalf("same day: %q", b)
	}
	e.clock.Add(48 * time.Hour)
	if b := call("forex_compare_file", "20261120", "20261120"); b != "F1|10.00|USD|20261120100000|20261121100000|P|0.00|L|\r\nFR1|2.50|USD|20261120100000|20261121100000|R|0.00|L|\r\n" {
		t.Fatalf("compare file: %q", b)
	}
	if b := call("forex_liquidation_file", "20261119", "20261120"); !strings.HasPrefix(b, "F1|10.00|USD|") {
		t.Fatalf("liquidation file: %q", b)
	}
	for _, tc := range []struct{ start, end, want string }{
		{"20261105", "20261115", "No balance account data in the period"},
		{"2026-11-01", "20261115", "Date format incorrect YYYYMMDD"},
		{"20261115", "20261101", "Finish date ahead of begin date"},
		{"20261101", "20261120", "File download failed:Over 10 days to Date period"},
	} {
		if b := call("forex_compare_file", tc.start, tc.end); b != tc.want {
			t.Errorf("%s-%s: %q, want %q", tc.start, tc.end, b, tc.want)
		}
	}
	_, rate := e.call(map[string]string{"service": "forex_rate_file", "partner": globalPID, "_input_charset": "utf-8"}, signing.RSA2)
	if !strings.Contains(rate, "20261122|093000|USD|7.1234\r\n") || !strings.Contains(rate, "|JPY|0.0478") {
		t.Fatalf("rate file: %q", rate)
	}
}
