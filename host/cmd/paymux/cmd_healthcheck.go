package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/paymux/paymux/host/config"
)

func init() {
	register(&command{name: "healthcheck", summary: "exit 0 when the local paymux answers GET /readyz with 200 (for container HEALTHCHECKs)", run: func(ctx context.Context, args []string) error {
		return runHealthcheck(ctx, args, os.Stdout)
	}})
}

func runHealthcheck(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	file := configFlag(fs, "config file whose server.listen (and server.tls) say where paymux listens")
	url := fs.String("url", "", "check this URL instead (e.g. http://127.0.0.1:8080/readyz)")
	timeout := fs.Duration("timeout", 5*time.Second, "bound on the request")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: paymux healthcheck [-config FILE] [-url URL] [-timeout D]\n\n"+
			"Asks the paymux serving on this machine for GET /readyz and exits 0 when it answers 200, 1\n"+
			"otherwise. The address is server.listen of the config (a wildcard host means loopback); with\n"+
			"server.tls the request uses HTTPS without checking the certificate's name, as it goes to\n"+
			"loopback. A container image has no shell or curl, so its HEALTHCHECK runs this.\n\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	target, insecure := *url, false
	if target == "" {
		cfg, err := config.Load(*file)
		if err != nil {
			return err
		}
		if target, err = readyzURL(cfg.Server.Listen, cfg.Server.TLS != nil); err != nil {
			return err
		}
		insecure = cfg.Server.TLS != nil
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{
		// Loopback to this host's own listener: the certificate names the public host, not 127.0.0.1.
		TLSClientConfig: &tls.Config{InsecureSkipVerify: insecure, MinVersion: tls.VersionTLS12},
		Proxy:           nil,
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("not ready: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("not ready: %s answered %s: %s", target, resp.Status, strings.TrimSpace(string(body)))
	}
	fmt.Fprintf(stdout, "ready: %s\n", target)
	return nil
}

// readyzURL is the /readyz URL of a listener at listen: a wildcard or empty host becomes
// loopback.
func readyzURL(listen string, useTLS bool) (string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("server.listen %q: %w", listen, err)
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	scheme := "http"
	if useTLS {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(host, port) + "/readyz", nil
}
