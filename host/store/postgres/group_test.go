package postgres

import (
	"context"
	"testing"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host/store"
	"github.com/paymux/paymux/host/store/internal/sqlbase"
)

// groupBatch runs ws as one batch of s's group writer, as if their callers had queued at the
// same moment, and returns each member's answer.
func groupBatch(t *testing.T, s *Store, ws []sqlbase.Write) []error {
	t.Helper()
	batch := make([]*groupJob, len(ws))
	for i, w := range ws {
		batch[i] = &groupJob{ctx: context.Background(), w: w, done: make(chan error, 1)}
	}
	s.group.commit(batch)
	errs := make([]error, len(ws))
	for i, j := range batch {
		errs[i] = <-j.done
	}
	return errs
}

func insertWrite(t *testing.T, n *store.Notification) sqlbase.Write {
	t.Helper()
	w, err := sqlbase.NotificationInsert(dialect, n)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func stored(t *testing.T, s *Store, id string) bool {
	t.Helper()
	_, err := s.GetNotification(context.Background(), id)
	if err != nil && core.ErrorCode(err) != core.ENOTFOUND {
		t.Fatal(err)
	}
	return err == nil
}

// TestGroupWriteFailingMember: one member of a batch fails on its own account (a taken id) in
// the middle; it gets its ECONFLICT and the members before and after it are committed. The
// control batch without it commits as one transaction.
func TestGroupWriteFailingMember(t *testing.T) {
	s := open(t, testSchema(t))
	ctx := context.Background()
	taken := &store.Notification{ID: store.NewID("ntf_"), Account: "acct-g", Body: []byte("original")}
	if err := s.InsertNotification(ctx, taken); err != nil {
		t.Fatal(err)
	}

	// Control: three good members, one transaction.
	commits := s.group.commits.Load()
	ctl := []*store.Notification{
		{ID: store.NewID("ntf_"), Account: "acct-g"}, {ID: store.NewID("ntf_"), Account: "acct-g"}, {ID: store.NewID("ntf_"), Account: "acct-g"},
	}
	errs := groupBatch(t, s, []sqlbase.Write{insertWrite(t, ctl[0]), insertWrite(t, ctl[1]), insertWrite(t, ctl[2])})
	for i, err := range errs {
		if err != nil || !stored(t, s, ctl[i].ID) {
			t.Errorf("control member %d: %v, stored %v", i, err, stored(t, s, ctl[i].ID))
		}
	}
	if got := s.group.commits.Load() - commits; got != 1 {
		t.Errorf("control batch: %d commits, want 1", got)
	}

	a := &store.Notification{ID: store.NewID("ntf_"), Account: "acct-g", Body: []byte("a")}
	bad := &store.Notification{ID: taken.ID, Account: "acct-g", Body: []byte("intruder")}
	b := &store.Notification{ID: store.NewID("ntf_"), Account: "acct-g", Body: []byte("b")}
	errs = groupBatch(t, s, []sqlbase.Write{insertWrite(t, a), insertWrite(t, bad), insertWrite(t, b)})
	if errs[0] != nil || errs[2] != nil {
		t.Errorf("good members failed with the bad one: %v, %v", errs[0], errs[2])
	}
	if core.ErrorCode(errs[1]) != core.ECONFLICT {
		t.Errorf("bad member: %v, want ECONFLICT", errs[1])
	}
	if !stored(t, s, a.ID) || !stored(t, s, b.ID) {
		t.Error("a good member of the batch is not stored")
	}
	got, err := s.GetNotification(ctx, taken.ID)
	if err != nil || string(got.Body) != "original" {
		t.Errorf("taken notification: %+v, %v", got, err)
	}
}

// TestGroupWriteCrashMidBatch: the connection dies in the middle of a batch (the server ends
// the backend, as a crash or a restart would). No member is acknowledged and none is stored,
// not even the one sent before the crash; the store goes on working.
func TestGroupWriteCrashMidBatch(t *testing.T) {
	s := open(t, testSchema(t))
	a := &store.Notification{ID: store.NewID("ntf_"), Account: "acct-c"}
	b := &store.Notification{ID: store.NewID("ntf_"), Account: "acct-c"}
	crash := sqlbase.NewWrite("SELECT pg_terminate_backend(pg_backend_pid())", nil, false,
		func(_ int64, err error) error { return err })
	errs := groupBatch(t, s, []sqlbase.Write{insertWrite(t, a), crash, insertWrite(t, b)})
	for i, err := range errs {
		if err == nil {
			t.Errorf("member %d acknowledged although its transaction died", i)
		}
	}
	if stored(t, s, a.ID) || stored(t, s, b.ID) {
		t.Error("a member of the crashed batch is stored")
	}
	// Control: the same two writes in a batch of their own commit.
	errs = groupBatch(t, s, []sqlbase.Write{insertWrite(t, a), insertWrite(t, b)})
	if errs[0] != nil || errs[1] != nil || !stored(t, s, a.ID) || !stored(t, s, b.ID) {
		t.Errorf("after the crash: %v", errs)
	}
}
