package alipayhk

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paymux/paymux/core"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got (as indented JSON) with testdata/name, rewriting it under -update.
func golden(t *testing.T, name string, got any) {
	t.Helper()
	data, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	data = append(data, '\n')
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(data, want) {
		t.Errorf("%s differs from the golden file:\n got: %s\nwant: %s", name, data, want)
	}
}

func readTx(t *testing.T, data []byte) ([]*core.SettlementRecord, error) {
	t.Helper()
	var out []*core.SettlementRecord
	err := ReadTransactionFile(bytes.NewReader(data), func(r *core.SettlementRecord) error {
		out = append(out, r)
		return nil
	})
	return out, err
}

func TestReadTransactionFileGolden(t *testing.T) {
	for _, tc := range []struct{ in, golden string }{
		{"2088101122136241_fptrade_20261120.csv", "fptrade_utf8.golden.json"},
		{"gbk_fptrade.csv", "fptrade_utf8.golden.json"}, // same content, GBK-encoded
		{"bom_fptrade.csv", "fptrade_utf8.golden.json"},
		{"noheader_fptrade.csv", "fptrade_noheader.golden.json"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", tc.in))
			if err != nil {
				t.Fatal(err)
			}
			recs, err := readTx(t, data)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, tc.golden, recs)
		})
	}
}

func TestReadTransactionFileFields(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "gbk_fptrade.csv"))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := readTx(t, data)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 5 {
		t.Fatalf("got %d records, want 5", len(recs))
	}
	r := recs[3]
	want := core.SettlementRecord{
		Kind: core.EventRefund, Reference: "RF20261120001", OrigRef: "HK20261120001",
		ProviderRef: "2026112022001300001000000001",
		Amount:      core.Money{Value: 3000, Currency: "HKD"}, Fee: core.Money{Value: 54, Currency: "HKD"},
		OccurredAt: time.Date(2026, 11, 20, 18, 30, 0, 0, HongKong), Status: "P", Wallet: "ALIPAYHK",
	}
	if !r.OccurredAt.Equal(want.OccurredAt) {
		t.Errorf("OccurredAt = %v, want %v", r.OccurredAt, want.OccurredAt)
	}
	r.OccurredAt = want.OccurredAt
	if *r != want {
		t.Errorf("refund row:\n got %+v\nwant %+v", *r, want)
	}
	if recs[1].Wallet != "ALIPAYCN" || recs[0].Wallet != "ALIPAYHK" {
		t.Errorf("wallets = %s, %s", recs[0].Wallet, recs[1].Wallet)
	}
	if recs[2].Amount.Value != 125000 {
		t.Errorf("thousands separator: amount = %d, want 125000", recs[2].Amount.Value)
	}
	if recs[0].SettledAt.IsZero() || !recs[1].SettledAt.IsZero() {
		t.Errorf("SettledAt: %v, %v", recs[0].SettledAt, recs[1].SettledAt)
	}
}

func TestReadTransactionFileHeaderByName(t *testing.T) {
	// Columns reordered, names in another case, an extra column: found by name.
	in := "currency,TYPE,amount,Issue,Partner_Transaction_ID,Extra\nHKD,P,9.90,ALIPAYHK,A1,x\n\n,,,,,\nHKD,R,1.00,ALIPAYCN,B1,y\n"
	recs, err := readTx(t, []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0].Reference != "A1" || recs[0].Amount.Value != 990 ||
		recs[1].Kind != core.EventRefund || recs[1].Wallet != "ALIPAYCN" || recs[1].Fee != (core.Money{Currency: "HKD"}) {
		t.Fatalf("records = %+v", recs)
	}
}

func TestReadTransactionFileErrors(t *testing.T) {
	hdr := "Partner_transaction_id,Transaction_id,Amount,Fee,,Settlement,Currency,Payment_time,Settlement_time,Issue,Product,Type,Status,Remarks,original_partner_transaction_ID\n"
	row := func(s string) string { return hdr + s + "\n" }
	for _, tc := range []struct{ name, in, want string }{
		{"missing column", "Partner_transaction_id,Amount,Type\nA,1.00,P\n", "no currency column"},
		{"bad type", row("A,T,1.00,0,,1.00,HKD,2026-11-20 10:00:00,,ALIPAYHK,Cross_wap,X,P,,"), "line 2: type \"X\""},
		{"bad amount", row("A,T,1.0.0,0,,1.00,HKD,2026-11-20 10:00:00,,ALIPAYHK,Cross_wap,P,P,,"), "line 2: amount"},
		{"too many decimals", row("A,T,1.001,0,,1.00,HKD,2026-11-20 10:00:00,,ALIPAYHK,Cross_wap,P,P,,"), "more than 2 decimals"},
		{"unknown currency", row("A,T,1.00,0,,1.00,XXX,2026-11-20 10:00:00,,ALIPAYHK,Cross_wap,P,P,,"), "unknown currency"},
		{"bad time", row("A,T,1.00,0,,1.00,HKD,20261120,,ALIPAYHK,Cross_wap,P,P,,"), "payment_time"},
		{"empty reference", row(",T,1.00,0,,1.00,HKD,,,ALIPAYHK,Cross_wap,P,P,,"), "empty partner_transaction_id"},
		{"long line", hdr + strings.Repeat("x", MaxLineBytes+10) + "\n", "longer than"},
		{"mixed encodings", row("A,T,1.00,0,,1.00,HKD,,,ALIPAYHK,Cross_wap,P,P,é,") + "B,T,1.00,0,,1.00,HKD,,,ALIPAYHK,Cross_wap,P,P,\xb2\xe2,\n", "invalid UTF-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readTx(t, []byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestReadTransactionFileYieldError(t *testing.T) {
	data, _ := os.ReadFile(filepath.Join("testdata", "2088101122136241_fptrade_20261120.csv"))
	stop := errors.New("stop")
	n := 0
	err := ReadTransactionFile(bytes.NewReader(data), func(*core.SettlementRecord) error { n++; return stop })
	if err != stop || n != 1 {
		t.Fatalf("err = %v after %d records, want the yield error after 1", err, n)
	}
}

func TestReadSettleBatchFile(t *testing.T) {
	in := "Settle_batch_no,Settle_date,Amount,Fee,Settlement,Currency\n50002017052300000001, 2017-05-23 15:36:00, 852.40, 8.52, 843.88, HKD\n"
	var got []*SettleBatch
	err := ReadSettleBatchFile(strings.NewReader(in), func(b *SettleBatch) error { got = append(got, b); return nil })
	if err != nil {
		t.Fatal(err)
	}
	want := SettleBatch{BatchNo: "50002017052300000001", SettleDate: time.Date(2017, 5, 23, 15, 36, 0, 0, HongKong),
		Amount: core.Money{Value: 85240, Currency: "HKD"}, Fee: core.Money{Value: 852, Currency: "HKD"},
		Settlement: core.Money{Value: 84388, Currency: "HKD"}}
	if len(got) != 1 || *got[0] != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

func readZip(t *testing.T, data []byte, partner string, limits ZipLimits) ([]*core.SettlementRecord, error) {
	t.Helper()
	var out []*core.SettlementRecord
	err := ReadSettlementZip(bytes.NewReader(data), int64(len(data)), partner, limits, func(r *core.SettlementRecord) error {
		out = append(out, r)
		return nil
	})
	return out, err
}

func TestReadSettlementZipGolden(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "2088101122136241_20261123.zip"))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := readZip(t, data, "2088101122136241", DefaultZipLimits)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "settlezip.golden.json", recs)
	if len(recs) != 3 {
		t.Fatalf("got %d records, want 3", len(recs))
	}
	// The second row has no Settlement_time: it takes its batch's Settle_date.
	if want := time.Date(2026, 11, 23, 15, 36, 0, 0, HongKong); !recs[1].SettledAt.Equal(want) {
		t.Errorf("SettledAt = %v, want the batch date %v", recs[1].SettledAt, want)
	}
}

// makeZip builds an archive from name/content pairs.
func makeZip(t testing.TB, method uint16, entries ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i := 0; i+1 < len(entries); i += 2 {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: entries[i], Method: method})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(w, entries[i+1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestReadSettlementZipLimits(t *testing.T) {
	hdr := "Partner_transaction_id,Amount,Currency,Type\n"
	bomb := hdr + strings.Repeat("                                                                \n", 1<<15) // 2 MiB of blank lines
	small := ZipLimits{MaxEntries: 4, MaxEntryBytes: 1 << 20, MaxTotalBytes: 4 << 20, MaxRatio: 200}
	for _, tc := range []struct {
		name      string
		zip       []byte
		limits    ZipLimits
		wantErr   string
		wantLimit bool
	}{
		{"entry too big", makeZip(t, zip.Store, "1_settle_20261123_B1.csv", bomb), small, "declares", true},
		{"entry bigger than declared", lieSize(t, makeZip(t, zip.Deflate, "1_settle_20261123_B1.csv", bomb)), ZipLimits{MaxEntries: 4, MaxEntryBytes: 1 << 20, MaxTotalBytes: 8 << 20}, "not a valid zip file", false},
		{"ratio", makeZip(t, zip.Deflate, "1_settle_20261123_B1.csv", bomb), ZipLimits{MaxEntries: 4, MaxEntryBytes: 8 << 20, MaxTotalBytes: 8 << 20, MaxRatio: 50}, "decompresses more than 50x", true},
		{"total", makeZip(t, zip.Deflate, "1_settle_20261123_B1.csv", bomb, "1_settle_20261123_B2.csv", bomb), ZipLimits{MaxEntries: 4, MaxEntryBytes: 8 << 20, MaxTotalBytes: 3 << 20}, "total limit", true},
		{"entries", makeZip(t, zip.Deflate, "a", "", "b", "", "c", "", "d", "", "e", ""), small, "5 entries", true},
		{"unknown batch", makeZip(t, zip.Deflate, "1_settlebatch_20261123.csv", "Settle_batch_no,Settlement,Currency\nB1,1.00,HKD\n", "1_settle_20261123_B2.csv", hdr+"A,1.00,HKD,P\n"), small, "batch B2 is not in the batch file", false},
		{"two batch files", makeZip(t, zip.Deflate, "1_settlebatch_20261123.csv", "", "x/1_settlebatch_20261123.csv", ""), small, "two batch files", false},
		{"not a zip", []byte("PK but not really"), small, "zip", false},
		// Another merchant's settlement must never be read as this one's; the "unknown batch"
		// case above is the control (partner 1 entries are read up to their own error).
		{"foreign batch file", makeZip(t, zip.Deflate, "2_settlebatch_20261123.csv", "Settle_batch_no,Settlement,Currency\nB1,1.00,HKD\n", "1_settle_20261123_B1.csv", hdr+"A,1.00,HKD,P\n"), small, "foreign merchant", false},
		{"foreign detail file", makeZip(t, zip.Deflate, "1_settle_20261123_B1.csv", hdr+"A,1.00,HKD,P\n", "2_settle_20261123_B2.csv", hdr+"B,2.00,HKD,P\n"), small, "foreign merchant", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readZip(t, tc.zip, "1", tc.limits)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.wantErr)
			}
			if tc.wantLimit && !errors.Is(err, ErrZipLimit) {
				t.Errorf("error %v does not wrap ErrZipLimit", err)
			}
		})
	}
}

// lieSize rewrites the declared uncompressed sizes of a one-entry archive to 1 KiB, as a zip
// bomb would, so that only the count of decompressed bytes can stop it.
func lieSize(t *testing.T, data []byte) []byte {
	t.Helper()
	out := bytes.Clone(data)
	patched := 0
	for _, sig := range [][]byte{{'P', 'K', 3, 4}, {'P', 'K', 1, 2}} {
		i := bytes.Index(out, sig)
		if i < 0 {
			t.Fatal("no zip header")
		}
		off := i + 22 // local header: uncompressed size at 22
		if sig[2] == 1 {
			off = i + 24 // central directory: at 24
		}
		binary.LittleEndian.PutUint32(out[off:], 1024)
		patched++
	}
	if patched != 2 {
		t.Fatal("not patched")
	}
	return out
}

func FuzzReadTransactionFile(f *testing.F) {
	for _, name := range []string{"2088101122136241_fptrade_20261120.csv", "gbk_fptrade.csv", "bom_fptrade.csv", "noheader_fptrade.csv"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("Partner_transaction_id,Amount,Currency,Type\n\"a\"\"b\",1,HKD,R\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = ReadTransactionFile(bytes.NewReader(data), func(r *core.SettlementRecord) error {
			if r.Reference == "" || r.Amount.Value < 0 || r.Fee.Value < 0 || (r.Kind != core.EventPayment && r.Kind != core.EventRefund) {
				t.Fatalf("invalid record %+v", r)
			}
			if !core.ValidCurrency(r.Amount.Currency) || r.Fee.Currency != r.Amount.Currency {
				t.Fatalf("bad currency in %+v", r)
			}
			return nil
		})
	})
}

func FuzzReadSettlementZip(f *testing.F) {
	data, err := os.ReadFile(filepath.Join("testdata", "2088101122136241_20261123.zip"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add(makeZip(f, zip.Store, "1_settle_20261123_B1.csv", "Partner_transaction_id,Amount,Currency,Type\nA,1.00,HKD,P\n"))
	limits := ZipLimits{MaxEntries: 16, MaxEntryBytes: 1 << 20, MaxTotalBytes: 2 << 20, MaxRatio: 100}
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = ReadSettlementZip(bytes.NewReader(data), int64(len(data)), "1", limits, func(r *core.SettlementRecord) error {
			if r.Reference == "" || !core.ValidCurrency(r.Amount.Currency) {
				t.Fatalf("invalid record %+v", r)
			}
			return nil
		})
	})
}
