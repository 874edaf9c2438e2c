package main

import (
	"context"
	"strings"
	"testing"
)

func TestBenchDSNLoopback(t *testing.T) {
	for _, c := range []struct {
		dsn string
		ok  bool
	}{
		{"postgres://postgres@127.0.0.1:5432/test?sslmode=disable", true},
		{"postgresql://u:p@[::1]:5432/db", true},
		{"postgres://postgres@db.example.com:5432/test", false},
		{"postgres://postgres@10.0.0.5/test", false},
		{"host=127.0.0.1 port=5432 user=postgres dbname=test", true},
		{"host=db.example.com user=postgres dbname=test", false},
		{"postgres://u@127.0.0.1:5432,10.0.0.5:5432/db", false}, // every host of a multi-host DSN
		{"postgres://u@127.0.0.1:5432,[::1]:5433/db", true},
	} {
		if err := checkLoopbackDSN(c.dsn); (err == nil) != c.ok {
			t.Errorf("checkLoopbackDSN(%q) = %v, want ok=%v", c.dsn, err, c.ok)
		}
	}
}

func TestBenchRefusesBeforeStarting(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-store", "postgres", "-dsn", "postgres://u@203.0.113.9:5432/x"}, "loopback"},
		{[]string{"-scenario", "nope", "-bin", t.TempDir()}, "scenario"},
		{[]string{"extra"}, "unexpected"},
	} {
		err := runBench(context.Background(), c.args)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("bench %v: %v, want an error about %q", c.args, err, c.want)
		}
	}
}
