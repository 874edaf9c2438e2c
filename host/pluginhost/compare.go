package pluginhost

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/paymux/paymux/core"
)

// A shadow comparison looks at answers as flat lists of named fields: "action.value",
// "events[0].amount", "error.code". Every field an answer carries is listed, so that two answers
// are the same exactly when their lists are; ignore rules name fields without indexes
// ("ParseNotification.events.occurred_at").

// field is one named value of an answer.
type field struct{ name, value string }

// answer is an answer's fields in a fixed order.
type answer []field

func (a *answer) add(name, value string) { *a = append(*a, field{name, value}) }

func (a *answer) addBool(name string, v bool) { a.add(name, strconv.FormatBool(v)) }

func (a *answer) addMoney(name string, m core.Money) {
	a.add(name, strconv.FormatInt(m.Value, 10)+" "+m.Currency)
}

func (a *answer) addTime(name string, t time.Time) {
	if t.IsZero() {
		a.add(name, "")
		return
	}
	a.add(name, t.UTC().Format(time.RFC3339Nano))
}

// errorAnswer is the answer of a call that failed with a provider's error: what crosses the
// boundary (code, message, provider code).
func errorAnswer(err error) answer {
	var a answer
	a.add("error.code", core.ErrorCode(err))
	a.add("error.message", core.ErrorMessage(err))
	a.add("error.provider_code", core.ProviderCode(err))
	return a
}

func describeAnswer(d *core.Description) answer {
	var a answer
	a.add("name", d.Name)
	a.add("version", d.Version)
	for i, m := range d.Methods {
		p := "methods[" + strconv.Itoa(i) + "]"
		a.add(p+".id", m.ID)
		a.add(p+".name", m.Name)
		chans := make([]string, len(m.Channels))
		for j, c := range m.Channels {
			chans[j] = string(c)
		}
		a.add(p+".channels", strings.Join(chans, ","))
		for j, r := range m.AmountRules {
			a.add(p+".amount_rules["+strconv.Itoa(j)+"]", fmt.Sprintf("%s %d..%d", r.Currency, r.Min, r.Max))
		}
	}
	caps := make([]string, len(d.Capabilities))
	for i, c := range d.Capabilities {
		caps[i] = string(c)
	}
	slices.Sort(caps)
	a.add("capabilities", strings.Join(caps, ","))
	for i, s := range d.Settings {
		a.add("settings["+strconv.Itoa(i)+"]", fmt.Sprintf("%s required=%t secret=%t", s.Name, s.Required, s.Secret))
	}
	sched := make([]string, len(d.QuerySchedule))
	for i, q := range d.QuerySchedule {
		sched[i] = q.String()
	}
	a.add("query_schedule", strings.Join(sched, ","))
	a.add("default_expiry", d.DefaultExpiry.String())
	a.add("max_expiry", d.MaxExpiry.String())
	return a
}

func configureAnswer() answer { return answer{{"accepted", "true"}} }

func createAnswer(r *core.CreatePaymentResult) answer {
	var a answer
	a.add("action.type", string(r.Action.Type))
	a.add("action.value", r.Action.Value)
	a.add("action.app_identifier", r.Action.AppIdentifier)
	a.add("action.fallbacks", strconv.Itoa(len(r.Action.Fallbacks)))
	for i, f := range r.Action.Fallbacks {
		p := "action.fallbacks[" + strconv.Itoa(i) + "]."
		a.add(p+"type", string(f.Type))
		a.add(p+"value", f.Value)
		a.add(p+"app_identifier", f.AppIdentifier)
		a.add(p+"fallbacks", strconv.Itoa(len(f.Fallbacks)))
	}
	a.add("provider_ref", r.ProviderRef)
	return a
}

func clientResultAnswer(r *core.ClientResult) answer {
	var a answer
	a.addBool("verified", r.Verified)
	a.add("status", string(r.Status))
	a.add("message", r.Message)
	return a
}

func notificationAnswer(r *core.NotificationResult) answer {
	var a answer
	a.addBool("verified", r.Verified)
	a.addBool("pending", r.Pending)
	a.add("reject_reason", r.RejectReason)
	a.add("dedupe_key", r.DedupeKey)
	a.add("events", strconv.Itoa(len(r.Events)))
	for i, e := range r.Events {
		p := "events[" + strconv.Itoa(i) + "]."
		a.add(p+"kind", string(e.Kind))
		a.add(p+"out_trade_no", e.OutTradeNo)
		a.add(p+"provider_ref", e.ProviderRef)
		a.add(p+"out_refund_no", e.OutRefundNo)
		a.add(p+"payment_status", string(e.PaymentStatus))
		a.add(p+"refund_status", string(e.RefundStatus))
		a.addMoney(p+"amount", e.Amount)
		a.addTime(p+"occurred_at", e.OccurredAt)
		a.add(p+"wallet", e.Wallet)
		a.add(p+"failure_code", e.FailureCode)
		a.add(p+"raw_status", e.RawStatus)
	}
	a.add("ack.status", strconv.Itoa(r.Ack.Status))
	a.add("ack.content_type", r.Ack.ContentType)
	a.add("ack.body", string(r.Ack.Body))
	return a
}

// shadowFields lists, per method, every field name an answer of that method can carry (indexes
// removed), for checking ignore rules: a rule naming no field is a typo that would silently
// compare everything.
var shadowFields = func() map[string][]string {
	errs := []string{"error.code", "error.message", "error.provider_code"}
	out := map[string][]string{
		MethodDescribe: {"name", "version", "methods.id", "methods.name", "methods.channels", "methods.amount_rules",
			"capabilities", "settings", "query_schedule", "default_expiry", "max_expiry"},
		MethodConfigure: {"accepted"},
		MethodCreatePayment: {"action.type", "action.value", "action.app_identifier", "action.fallbacks",
			"action.fallbacks.type", "action.fallbacks.value", "action.fallbacks.app_identifier", "action.fallbacks.fallbacks",
			"provider_ref"},
		MethodVerifyClientResult: {"verified", "status", "message"},
		MethodParseNotification: {"verified", "pending", "reject_reason", "dedupe_key", "events", "events.kind", "events.out_trade_no",
			"events.provider_ref", "events.out_refund_no", "events.payment_status", "events.refund_status", "events.amount",
			"events.occurred_at", "events.wallet", "events.failure_code", "events.raw_status", "ack.status",
			"ack.content_type", "ack.body"},
	}
	for m := range out {
		out[m] = append(out[m], errs...)
	}
	return out
}()

// ShadowFields returns the fields a shadow run compares for each call type, as ignore rules name
// them ("<Method>.<field>", e.g. "ParseNotification.events.occurred_at"), sorted.
func ShadowFields() []string {
	var out []string
	for m, fs := range shadowFields {
		for _, f := range fs {
			out = append(out, m+"."+f)
		}
	}
	slices.Sort(out)
	return out
}

// AlwaysIgnored are the fields no shadow run compares: a new build reports a new version.
var AlwaysIgnored = []string{MethodDescribe + ".version"}

// checkIgnore returns an error naming the first rule that is no field of ShadowFields.
func checkIgnore(rules []string) error {
	for _, r := range rules {
		m, f, ok := strings.Cut(r, ".")
		if !ok || !slices.Contains(shadowFields[m], f) {
			return fmt.Errorf("shadow ignore rule %q names no compared field (see docs/operations.md: <Method>.<field>, e.g. ParseNotification.events.occurred_at)", r)
		}
	}
	return nil
}

// baseName is a field's name without indexes: "events[0].amount" -> "events.amount".
func baseName(name string) string {
	if !strings.Contains(name, "[") {
		return name
	}
	var b strings.Builder
	skip := false
	for _, r := range name {
		switch {
		case r == '[':
			skip = true
		case r == ']':
			skip = false
		case !skip:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// diff returns the names of the fields that differ between live and shadow (a field present in
// one only differs), skipping those ignore (keyed by index-free name) says legitimately differ.
func diff(live, shadow answer, ignore map[string]bool) []string {
	sv := make(map[string]string, len(shadow))
	for _, f := range shadow {
		sv[f.name] = f.value
	}
	var out []string
	seen := make(map[string]bool, len(live))
	for _, f := range live {
		seen[f.name] = true
		if ignore[baseName(f.name)] {
			continue
		}
		if v, ok := sv[f.name]; !ok || v != f.value {
			out = append(out, f.name)
		}
	}
	for _, f := range shadow {
		if !seen[f.name] && !ignore[baseName(f.name)] {
			out = append(out, f.name)
		}
	}
	return out
}

// redacted is what a secret value is replaced with in a sample.
const redacted = "[REDACTED]"

// minSecretLen: shorter setting values are not searched for (a 1-character "secret" would
// blank out the whole answer and protects nothing).
const minSecretLen = 4

// redact returns a's fields as a map with every occurrence of a secret replaced.
func redact(a answer, secrets []string) map[string]string {
	out := make(map[string]string, len(a))
	for _, f := range a {
		v := f.value
		for _, s := range secrets {
			if len(s) >= minSecretLen {
				v = strings.ReplaceAll(v, s, redacted)
			}
		}
		out[f.name] = v
	}
	return out
}

// fingerprint identifies a request without showing it: the SHA-256 of its method, account and
// JSON form, shortened to 16 bytes.
func fingerprint(method string, req any) string {
	b, err := json.Marshal(req)
	if err != nil {
		b = []byte(fmt.Sprintf("%+v", req))
	}
	h := sha256.New()
	h.Write([]byte(method))
	h.Write([]byte{0})
	h.Write(b)
	return "sha256:" + hex.EncodeToString(h.Sum(nil)[:16])
}
