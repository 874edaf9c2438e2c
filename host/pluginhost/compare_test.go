package pluginhost

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paymux/paymux/core"
	"github.com/paymux/paymux/host/config"
)

func TestDiffFields(t *testing.T) {
	n := func(amount int64, at time.Time) answer {
		return notificationAnswer(&core.NotificationResult{Verified: true, DedupeKey: "k",
			Events: []core.NotificationEvent{{Kind: core.EventPayment, OutTradeNo: "o1", Amount: core.Money{Value: amount, Currency: "USD"}, OccurredAt: at}},
			Ack:    core.Ack{Status: 200, Body: []byte("success")}})
	}
	t0 := time.Unix(1764720000, 0)
	if d := diff(n(100, t0), n(100, t0), nil); len(d) != 0 {
		t.Fatalf("equal answers differ in %v", d)
	}
	if d := diff(n(100, t0), n(101, t0.Add(time.Second)), nil); !slices.Equal(d, []string{"events[0].amount", "events[0].occurred_at"}) {
		t.Fatalf("diff = %v", d)
	}
	if d := diff(n(100, t0), n(100, t0.Add(time.Second)), map[string]bool{"events.occurred_at": true}); len(d) != 0 {
		t.Fatalf("an ignored field differs: %v", d)
	}
	// An extra event on one side differs, in its count and in every field of it.
	two := notificationAnswer(&core.NotificationResult{Verified: true, DedupeKey: "k", Events: make([]core.NotificationEvent, 2), Ack: core.Ack{Status: 200}})
	if d := diff(n(100, t0), two, nil); !slices.Contains(d, "events") || !slices.Contains(d, "events[1].amount") {
		t.Fatalf("extra event: %v", d)
	}
	// An order string is compared byte for byte; an error differs from an answer.
	a := createAnswer(&core.CreatePaymentResult{Action: core.NextAction{Type: core.ActionSDKOrderString, Value: "a=1&sign=x"}})
	b := createAnswer(&core.CreatePaymentResult{Action: core.NextAction{Type: core.ActionSDKOrderString, Value: "a=1&sign=x "}})
	if d := diff(a, b, nil); !slices.Equal(d, []string{"action.value"}) {
		t.Fatalf("order strings: %v", d)
	}
	if d := diff(a, errorAnswer(core.Errorf(core.ECONFIG, "bad key")), nil); len(d) != 8 {
		t.Fatalf("answer vs error: %v", d)
	}
	if d := diff(errorAnswer(core.Errorf(core.ECONFIG, "bad key")), errorAnswer(core.Errorf(core.ECONFIG, "bad key")), nil); len(d) != 0 {
		t.Fatalf("same errors: %v", d)
	}
}

func TestRedact(t *testing.T) {
	a := answer{{"error.message", "key s3cr3t-value is wrong"}, {"action.value", "x=1"}, {"ack.body", "ab"}}
	got := redact(a, []string{"s3cr3t-value", "ab", "x=1-long-not-there"})
	if got["error.message"] != "key [REDACTED] is wrong" || got["action.value"] != "x=1" || got["ack.body"] != "ab" {
		t.Fatalf("redact = %v (values under %d characters are left alone)", got, minSecretLen)
	}
}

// TestIgnoreRules: every rule names a compared field; the config's list of methods is this one.
func TestIgnoreRules(t *testing.T) {
	if !slices.Equal(config.ShadowMethods, shadowMethods) {
		t.Fatalf("config.ShadowMethods %v != %v", config.ShadowMethods, shadowMethods)
	}
	if err := checkIgnore([]string{"ParseNotification.events.occurred_at", "Describe.version", "CreatePayment.action.value"}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"ParseNotification.events[0].amount", "Refund.status", "version", "CreatePayment.order"} {
		if err := checkIgnore([]string{bad}); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("%q: %v", bad, err)
		}
	}
	// Every field an answer carries is one a rule can name.
	answers := map[string]answer{
		MethodDescribe:           describeAnswer(&core.Description{Methods: []core.Method{{AmountRules: []core.AmountRule{{}}}}, Settings: []core.Setting{{}}}),
		MethodConfigure:          configureAnswer(),
		MethodCreatePayment:      createAnswer(&core.CreatePaymentResult{Action: core.NextAction{Fallbacks: make([]core.NextAction, 1)}}),
		MethodVerifyClientResult: clientResultAnswer(&core.ClientResult{}),
		MethodParseNotification:  notificationAnswer(&core.NotificationResult{Events: make([]core.NotificationEvent, 1)}),
	}
	for m, a := range answers {
		for _, f := range append(a, errorAnswer(core.Errorf(core.EINVALID, "x"))...) {
			if !slices.Contains(shadowFields[m], baseName(f.name)) {
				t.Errorf("%s answer field %s is missing from shadowFields", m, f.name)
			}
		}
	}
}

// TestAnswersCoverEveryField fails when a core answer type gains a field: compare.go must then
// compare it (and list it in shadowFields), or a shadow run would miss differences in it.
func TestAnswersCoverEveryField(t *testing.T) {
	for typ, n := range map[reflect.Type]int{
		reflect.TypeFor[core.Description]():         8,
		reflect.TypeFor[core.Method]():              4,
		reflect.TypeFor[core.CreatePaymentResult](): 2,
		reflect.TypeFor[core.NextAction]():          4,
		reflect.TypeFor[core.ClientResult]():        3,
		reflect.TypeFor[core.NotificationResult]():  6,
		reflect.TypeFor[core.NotificationEvent]():   11,
		reflect.TypeFor[core.Ack]():                 3,
	} {
		if typ.NumField() != n {
			t.Errorf("%v has %d fields, compare.go knows %d: compare the new ones", typ, typ.NumField(), n)
		}
	}
}
