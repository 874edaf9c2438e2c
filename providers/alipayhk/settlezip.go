package alipayhk

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/paymux/paymux/core"
)

// SettleBatch is one row of a settlement batch file (`PID_settlebatch_YYYYMMDD.csv`).
type SettleBatch struct {
	BatchNo    string
	SettleDate time.Time
	Amount     core.Money
	Fee        core.Money
	Settlement core.Money // net: Amount - Fee
}

// Batch file columns (alipayhk.md 14.3).
const (
	colBatchNo    = "settle_batch_no"
	colSettleDate = "settle_date"
)

var batchPositional = []string{colBatchNo, colSettleDate, colAmount, colFee, colSettlement, colCurrency}

// ReadSettleBatchFile streams a settlement batch file and calls yield once per batch. Encoding
// and header handling are as in ReadTransactionFile.
func ReadSettleBatchFile(r io.Reader, yield func(*SettleBatch) error) error {
	tr, err := newTableReader(r)
	if err != nil {
		return err
	}
	row, err := tr.next()
	if err == io.EOF {
		return nil
	}
	if err != nil {
		return err
	}
	idx, isHeader := headerIndex(row, batchPositional)
	for _, c := range []string{colBatchNo, colSettlement, colCurrency} {
		if idx[c] < 0 {
			return tr.errorf("batch header has no %s column", c)
		}
	}
	if isHeader {
		row, err = tr.next()
	}
	for ; err == nil; row, err = tr.next() {
		if allEmpty(row) {
			continue
		}
		b, err := batchRecord(row, idx)
		if err != nil {
			return tr.wrap(err)
		}
		if err := yield(b); err != nil {
			return err
		}
	}
	if err == io.EOF {
		return nil
	}
	return err
}

func batchRecord(row []string, idx map[string]int) (*SettleBatch, error) {
	get := func(c string) string {
		if i := idx[c]; i >= 0 && i < len(row) {
			return row[i]
		}
		return ""
	}
	b := &SettleBatch{BatchNo: get(colBatchNo)}
	if b.BatchNo == "" {
		return nil, fmt.Errorf("empty %s", colBatchNo)
	}
	cur := strings.ToUpper(get(colCurrency))
	var err error
	if b.SettleDate, err = fileTime(get(colSettleDate)); err != nil {
		return nil, fmt.Errorf("%s: %w", colSettleDate, err)
	}
	if b.Amount, err = fileMoney(get(colAmount), cur, false); err != nil {
		return nil, fmt.Errorf("%s: %w", colAmount, err)
	}
	if b.Fee, err = fileMoney(get(colFee), cur, false); err != nil {
		return nil, fmt.Errorf("%s: %w", colFee, err)
	}
	if b.Settlement, err = fileMoney(get(colSettlement), cur, true); err != nil {
		return nil, fmt.Errorf("%s: %w", colSettlement, err)
	}
	return b, nil
}

// ZipLimits bound what ReadSettlementZip decompresses, so that a zip bomb fails early. Sizes are
// counted on the bytes actually decompressed, not on what the archive's headers claim.
type ZipLimits struct {
	MaxEntries    int   // entries in the archive, directories included
	MaxEntryBytes int64 // decompressed bytes of one entry
	MaxTotalBytes int64 // decompressed bytes of all entries read
	// MaxRatio bounds decompressed/compressed size of an entry larger than 1 MiB. CSV text
	// compresses 5-20x; deflate bombs reach about 1000x.
	MaxRatio int64
}

// DefaultZipLimits are generous for a day of one merchant's settlements.
var DefaultZipLimits = ZipLimits{MaxEntries: 256, MaxEntryBytes: 256 << 20, MaxTotalBytes: 1 << 30, MaxRatio: 200}

// Entry names inside a settlement zip. The date is not checked against the archive's name (the
// archive may have been renamed on download), but the partner id is checked against the account's:
// an entry of another merchant's settlement is never read as this merchant's (see ErrForeignMerchant).
var (
	batchEntryRE  = regexp.MustCompile(`^(\d+)_settlebatch_\d{8}\.csv$`)
	detailEntryRE = regexp.MustCompile(`^(\d+)_settle_\d{8}_([A-Za-z0-9_-]+)\.csv$`)
)

// ErrForeignMerchant is wrapped by ReadSettlementZip errors for an entry named for another partner.
var ErrForeignMerchant = errors.New("foreign merchant")

// ErrZipLimit is wrapped by ReadSettlementZip errors caused by a ZipLimits bound.
var ErrZipLimit = errors.New("settlement zip exceeds a size limit")

// ReadSettlementZip reads a settlement archive (`PID_YYYYMMDD.zip`) and calls yield for every
// row of its detail files (`PID_settle_YYYYMMDD_<BatchID>.csv`), file by file in name order,
// each streamed from the archive. The batch file, when present, is read first: a detail file
// whose batch it does not list is an error, and rows without a Settlement_time take their
// batch's Settle_date. Other entries are ignored. A zip is read through io.ReaderAt because its
// directory is at the end; an sftp.File or os.File serves without loading the whole archive.
// partner is the account's partner id: a batch or detail entry named for another partner fails
// the whole archive with ErrForeignMerchant.
func ReadSettlementZip(r io.ReaderAt, size int64, partner string, limits ZipLimits, yield func(*core.SettlementRecord) error) error {
	if partner == "" {
		return errors.New("alipayhk: settlement zip: no partner id to bind its entries to")
	}
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return fmt.Errorf("alipayhk: settlement zip: %w", err)
	}
	if len(zr.File) > limits.MaxEntries {
		return fmt.Errorf("alipayhk: settlement zip has %d entries, over %d: %w", len(zr.File), limits.MaxEntries, ErrZipLimit)
	}
	var batchFile *zip.File
	var details []*zip.File
	for _, f := range zr.File {
		name := path.Base(f.Name)
		if f.FileInfo().IsDir() {
			continue
		}
		m := batchEntryRE.FindStringSubmatch(name)
		if m == nil {
			m = detailEntryRE.FindStringSubmatch(name)
		}
		if m != nil && m[1] != partner {
			return fmt.Errorf("alipayhk: settlement zip entry %s names partner %s, not the account's: %w", printable(f.Name), m[1], ErrForeignMerchant)
		}
		switch {
		case batchEntryRE.MatchString(name):
			if batchFile != nil {
				return fmt.Errorf("alipayhk: settlement zip has two batch files (%s, %s)", batchFile.Name, printable(f.Name))
			}
			batchFile = f
		case detailEntryRE.MatchString(name):
			details = append(details, f)
		}
	}
	slices.SortFunc(details, func(a, b *zip.File) int { return strings.Compare(a.Name, b.Name) })
	budget := limits.MaxTotalBytes
	var batches map[string]*SettleBatch
	if batchFile != nil {
		batches = map[string]*SettleBatch{}
		err := readEntry(batchFile, limits, &budget, func(rc io.Reader) error {
			return ReadSettleBatchFile(rc, func(b *SettleBatch) error {
				if len(batches) >= 1<<16 {
					return fmt.Errorf("more than %d batches", 1<<16)
				}
				batches[b.BatchNo] = b
				return nil
			})
		})
		if err != nil {
			return fmt.Errorf("alipayhk: settlement zip entry %s: %w", batchFile.Name, err)
		}
	}
	for _, f := range details {
		batchID := detailEntryRE.FindStringSubmatch(path.Base(f.Name))[2]
		var batch *SettleBatch
		if batches != nil {
			if batch = batches[batchID]; batch == nil {
				return fmt.Errorf("alipayhk: settlement zip entry %s: batch %s is not in the batch file", f.Name, batchID)
			}
		}
		err := readEntry(f, limits, &budget, func(rc io.Reader) error {
			return ReadTransactionFile(rc, func(rec *core.SettlementRecord) error {
				if rec.SettledAt.IsZero() && batch != nil {
					rec.SettledAt = batch.SettleDate
				}
				return yield(rec)
			})
		})
		if err != nil {
			return fmt.Errorf("alipayhk: settlement zip entry %s: %w", f.Name, err)
		}
	}
	return nil
}

// readEntry opens one entry and hands fn a reader that fails once the entry or the archive's
// total budget is exceeded.
func readEntry(f *zip.File, limits ZipLimits, budget *int64, fn func(io.Reader) error) error {
	if f.UncompressedSize64 > uint64(limits.MaxEntryBytes) {
		return fmt.Errorf("declares %d bytes, over %d: %w", f.UncompressedSize64, limits.MaxEntryBytes, ErrZipLimit)
	}
	rc, err := f.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	lr := &limitedEntry{r: rc, entryLeft: limits.MaxEntryBytes, budget: budget,
		compressed: int64(f.CompressedSize64), maxRatio: limits.MaxRatio}
	return fn(lr)
}

type limitedEntry struct {
	r          io.Reader
	entryLeft  int64
	budget     *int64
	read       int64
	compressed int64
	maxRatio   int64
}

func (l *limitedEntry) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	l.read += int64(n)
	l.entryLeft -= int64(n)
	*l.budget -= int64(n)
	switch {
	case l.entryLeft < 0:
		return 0, fmt.Errorf("entry decompresses to more than its limit: %w", ErrZipLimit)
	case *l.budget < 0:
		return 0, fmt.Errorf("archive decompresses to more than its total limit: %w", ErrZipLimit)
	case l.maxRatio > 0 && l.read > 1<<20 && l.read > l.maxRatio*max(l.compressed, 1):
		return 0, fmt.Errorf("entry decompresses more than %dx: %w", l.maxRatio, ErrZipLimit)
	}
	return n, err
}
