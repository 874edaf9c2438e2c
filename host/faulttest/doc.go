// Package faulttest is paymux's fault suite: a simulator and a paymux host (a child process)
// on loopback, put under load while plugins and the host are killed with SIGKILL, the gateway
// answers 5xx or hangs, notifications arrive twice and out of order, and 100 refunds race on
// one payment; after each, the invariants are checked on the store the host wrote (see
// invariants_test.go). The tests carry the build tag "faults":
//
//	go test -tags faults -short ./host/faulttest/   # the short run of .ci/run (under ~90 s)
//	go test -tags faults ./host/faulttest/          # longer loads and more kills
//
// docs/reliability.md lists what each test proves.
package faulttest
