package mapi

import (
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/paymux/paymux/core"
)

func TestAccounts(t *testing.T) {
	var a Accounts[*Settings] // the zero value is ready
	if _, err := a.Get("alipayhk", "hk1"); core.ErrorCode(err) != core.ECONFIG || !strings.Contains(core.ErrorMessage(err), `account "hk1" is not configured for provider alipayhk`) {
		t.Fatalf("unknown account: %v", err)
	}
	first, second := &Settings{Partner: "1"}, &Settings{Partner: "2"}
	a.Set("hk1", first)
	held, err := a.Get("alipayhk", "hk1")
	if err != nil || held != first {
		t.Fatalf("Get = %v, %v", held, err)
	}
	a.Set("hk1", second) // a reconfiguration replaces the account whole...
	if got, _ := a.Get("alipayhk", "hk1"); got != second {
		t.Errorf("after Set: %v", got)
	}
	if held.Partner != "1" { // ...and leaves what a call in flight holds untouched
		t.Errorf("held configuration changed: %v", held)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := "acct" + strconv.Itoa(i)
			for range 100 {
				a.Set(name, &Settings{Partner: name})
				if got, err := a.Get("p", name); err != nil || got.Partner != name {
					t.Errorf("%s: %v, %v", name, got, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestCapabilities(t *testing.T) {
	d := core.Description{Capabilities: Capabilities()}
	for _, c := range []core.Capability{core.CapQuery, core.CapRefund, core.CapPartialRefund, core.CapMultipleRefund, core.CapSettlement, core.CapClientResult} {
		if !d.Has(c) {
			t.Errorf("missing %s", c)
		}
	}
	if d.Has(core.CapClose) {
		t.Error("close declared: no mapi payment product offers it")
	}
	Capabilities()[0] = core.CapClose // each call returns a fresh slice
	if d := (core.Description{Capabilities: Capabilities()}); d.Has(core.CapClose) {
		t.Error("Capabilities shares its slice")
	}
}
