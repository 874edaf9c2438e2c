package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/paymux/paymux/core/signing"
	"github.com/paymux/paymux/providers/antomsim"
	"github.com/paymux/paymux/providers/mapisim"
)

// DemoAntomClientID is the client id of the Antom demo merchant `paymux sim` registers when no
// partners file lists Antom merchants (a sandbox id: the provider calls /ams/sandbox/api).
const DemoAntomClientID = "SANDBOX_5X00000000000001"

func init() {
	register(&command{name: "sim", summary: "run the wallet simulators: Alipay mapi (gateway, cashier, notifier, SFTP) and Antom AMS", run: runSim})
}

// simPartnersFile is the YAML of -partners.
type simPartnersFile struct {
	// AlipayPrivateKeyFile overrides the simulator's signing key (default: the committed test key).
	AlipayPrivateKeyFile string `yaml:"alipay_private_key_file"`
	Partners             []struct {
		ID                    string   `yaml:"id"`
		Flavour               string   `yaml:"flavour"`
		SignType              string   `yaml:"sign_type"`
		MerchantPublicKeyFile string   `yaml:"merchant_public_key_file"`
		MD5Key                string   `yaml:"md5_key"`
		Currencies            []string `yaml:"currencies"`
		Name                  string   `yaml:"name"`
		FeeBasisPoints        int64    `yaml:"fee_basis_points"`
		Unnamed               bool     `yaml:"unnamed"` // trade notifications carry no seller_id
	} `yaml:"partners"`
	// AntomPrivateKeyFile overrides the key the Antom simulator signs with (default: the
	// committed test key).
	AntomPrivateKeyFile string `yaml:"antom_private_key_file"`
	// AntomMerchants are the client ids the Antom simulator accepts (default: the demo merchant).
	AntomMerchants []struct {
		ClientID              string `yaml:"client_id"`
		MerchantPublicKeyFile string `yaml:"merchant_public_key_file"`
		Name                  string `yaml:"name"`
	} `yaml:"antom_merchants"`
}

// simAntom is what the partners file says about the Antom simulator.
type simAntom struct {
	keyFile   string
	merchants []antomsim.Merchant
}

func runSim(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:8090", "HTTP listen address of the gateway, cashier and control API")
	seed := fs.Int64("seed", 1, "seed of trade_no and notify_id generation")
	scale := fs.Float64("time-scale", 1, "simulated seconds per real second (notification retries, it_b_pay expiry, async refunds)")
	partnersFile := fs.String("partners", "", "YAML file listing partners (default: the demo partners with the test merchant key)")
	stateFile := fs.String("state", "", "JSON state file: loaded at start, saved every 30 s and at exit")
	sftpListen := fs.String("sftp-listen", "127.0.0.1:8022", `SFTP listen address for AlipayHK reconciliation files ("" disables)`)
	sftpHostKey := fs.String("sftp-host-key", "", "SFTP host private key file (default: the committed test key)")
	sftpAuth := fs.String("sftp-authorized-keys", "", "authorized_keys file of SFTP clients (default: the committed test client key)")
	refundGap := fs.Duration("refund-min-interval", 0, "enforce this gap between refunds of a partner (the docs say 3s; 0 = off)")
	antomSandbox := fs.Bool("antom-sandbox", false, "Antom: deliver each notification once, as Antom's sandbox does (default: Antom's retry schedule)")
	antomSignQuery := fs.Bool("antom-sign-query", false, "Antom: include the notify URL's query in the signed path (unconfirmed; default: path only)")
	quiet := fs.Bool("quiet", false, "do not log events")
	fs.SetOutput(os.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: paymux sim [flags]\n\n"+
			"Runs the Alipay mapi gateway simulator (gateway.do, the H5 cashier, the notifier,\n"+
			"the control API under /sim/, the AlipayHK SFTP file server) and the Antom AMS simulator\n"+
			"(/ams/api and /ams/sandbox/api, wallet pages under /antom/, control API under /sim/antom/)\n"+
			"on one listener (docs/simulator.md).\n\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	cfg := mapisim.Config{Seed: *seed, TimeScale: *scale, RefundMinInterval: *refundGap}
	if !*quiet {
		cfg.Logf = func(format string, a ...any) { fmt.Fprintf(os.Stderr, format+"\n", a...) }
	}
	partners, alipayKeyFile, antomFile, err := loadSimPartners(*partnersFile)
	if err != nil {
		return err
	}
	acfg := antomsim.Config{Seed: *seed, TimeScale: *scale, Sandbox: *antomSandbox, SignQuery: *antomSignQuery, Logf: cfg.Logf}
	if antomFile.keyFile != "" {
		data, err := os.ReadFile(antomFile.keyFile)
		if err != nil {
			return fmt.Errorf("antom key: %w", err)
		}
		if acfg.AntomKey, err = signing.ParsePrivateKey(data); err != nil {
			return fmt.Errorf("antom key %s: %w", antomFile.keyFile, err)
		}
	}
	asim := antomsim.New(acfg)
	defer asim.Close()
	for _, m := range antomFile.merchants {
		if err := asim.AddMerchant(m); err != nil {
			return err
		}
	}
	if alipayKeyFile != "" {
		data, err := os.ReadFile(alipayKeyFile)
		if err != nil {
			return fmt.Errorf("alipay key: %w", err)
		}
		if cfg.AlipayKey, err = signing.ParsePrivateKey(data); err != nil {
			return fmt.Errorf("alipay key %s: %w", alipayKeyFile, err)
		}
	}
	sim := mapisim.New(cfg)
	defer sim.Close()
	for _, p := range partners {
		if err := sim.AddPartner(p); err != nil {
			return err
		}
	}
	if *stateFile != "" {
		if err := sim.LoadFile(*stateFile); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: asim.Mount(sim.Handler()), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	var sftpAddr string
	if *sftpListen != "" {
		sc := mapisim.SFTPConfig{}
		if sc.HostKeyPEM, err = readOptional(*sftpHostKey); err != nil {
			return err
		}
		if sc.AuthorizedKeys, err = readOptional(*sftpAuth); err != nil {
			return err
		}
		ss, err := sim.StartSFTP(*sftpListen, sc)
		if err != nil {
			srv.Close()
			return err
		}
		defer ss.Close()
		sftpAddr = ss.Addr()
	}
	printSimBanner(os.Stdout, "http://"+ln.Addr().String(), sftpAddr, sim, *partnersFile == "")
	printAntomBanner(os.Stdout, "http://"+ln.Addr().String(), asim)

	tick := time.NewTicker(30 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			if *stateFile != "" {
				if err := sim.SaveFile(*stateFile); err != nil {
					fmt.Fprintln(os.Stderr, "paymux sim:", err)
				}
			}
			continue
		case err := <-errc:
			return fmt.Errorf("serve: %w", err)
		case <-ctx.Done():
		}
		break
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		srv.Close()
	}
	sim.Close()
	asim.Close()
	if *stateFile != "" {
		if err := sim.SaveFile(*stateFile); err != nil {
			return err
		}
		fmt.Fprintln(os.Stderr, "paymux sim: state saved to", *stateFile)
	}
	return nil
}

func readOptional(path string) ([]byte, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return b, nil
}

// demoPartners are registered when no partners file is given.
func demoPartners() []mapisim.Partner {
	return []mapisim.Partner{
		{ID: "2088000000000001", Flavour: mapisim.FlavourGlobal, SignType: "RSA2", MerchantPublicKeyPEM: mapisim.TestMerchantPublicKeyPEM,
			MD5Key: mapisim.TestMD5Key, Name: "paymux demo shop (global)"},
		{ID: "2088000000000002", Flavour: mapisim.FlavourHK, SignType: "RSA2", MerchantPublicKeyPEM: mapisim.TestMerchantPublicKeyPEM,
			MD5Key: mapisim.TestMD5Key, Name: "paymux demo shop (AlipayHK)"},
	}
}

// demoAntomMerchants are registered when no partners file lists Antom merchants.
func demoAntomMerchants() []antomsim.Merchant {
	return []antomsim.Merchant{{ClientID: DemoAntomClientID, PublicKeyPEM: antomsim.TestMerchantPublicKeyPEM, Name: "paymux demo shop (Antom)"}}
}

func loadSimPartners(path string) ([]mapisim.Partner, string, simAntom, error) {
	if path == "" {
		return demoPartners(), "", simAntom{merchants: demoAntomMerchants()}, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, "", simAntom{}, fmt.Errorf("partners file: %w", err)
	}
	var f simPartnersFile
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, "", simAntom{}, fmt.Errorf("partners file %s: %w", path, err)
	}
	if len(f.Partners) == 0 {
		return nil, "", simAntom{}, fmt.Errorf("partners file %s lists no partners", path)
	}
	base := filepath.Dir(path)
	rel := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(base, p)
	}
	var out []mapisim.Partner
	for i, p := range f.Partners {
		mp := mapisim.Partner{ID: p.ID, Flavour: p.Flavour, SignType: p.SignType, MD5Key: p.MD5Key,
			Currencies: p.Currencies, Name: p.Name, FeeBasisPoints: p.FeeBasisPoints, Unnamed: p.Unnamed}
		if p.MerchantPublicKeyFile != "" {
			if mp.MerchantPublicKeyPEM, err = os.ReadFile(rel(p.MerchantPublicKeyFile)); err != nil {
				return nil, "", simAntom{}, fmt.Errorf("partners file %s: partner #%d: %w", path, i+1, err)
			}
		}
		out = append(out, mp)
	}
	antom := simAntom{keyFile: rel(f.AntomPrivateKeyFile)}
	for i, m := range f.AntomMerchants {
		am := antomsim.Merchant{ClientID: m.ClientID, Name: m.Name, PublicKeyPEM: antomsim.TestMerchantPublicKeyPEM}
		if m.MerchantPublicKeyFile != "" {
			if am.PublicKeyPEM, err = os.ReadFile(rel(m.MerchantPublicKeyFile)); err != nil {
				return nil, "", simAntom{}, fmt.Errorf("partners file %s: antom merchant #%d: %w", path, i+1, err)
			}
		}
		antom.merchants = append(antom.merchants, am)
	}
	if len(antom.merchants) == 0 {
		antom.merchants = demoAntomMerchants()
	}
	return out, rel(f.AlipayPrivateKeyFile), antom, nil
}

func printAntomBanner(w io.Writer, base string, sim *antomsim.Sim) {
	fmt.Fprintf(w, "\npaymux sim: Antom AMS simulator (same listener)\n\n")
	fmt.Fprintf(w, "  API            %s/ams/api/v1/payments/<api> and %s/ams/sandbox/api/v1/payments/<api>\n", base, base)
	fmt.Fprintf(w, "  wallet pages   %s/antom/wallet/<paymentId> (pay, decline, leave pending, abandon)\n", base)
	fmt.Fprintf(w, "  control API    %s/sim/antom/ (POST decide, GET deliveries, POST faults, GET public-key)\n", base)
	fmt.Fprintf(w, "\n  client ids:\n")
	for _, m := range sim.Merchants() {
		fmt.Fprintf(w, "    %s  %s\n", m.ClientID, m.Name)
	}
	fmt.Fprintf(w, "\nAntom public key (configure it as antom_public_key_file):\n%s\n", sim.AntomPublicKeyPEM())
}

func printSimBanner(w io.Writer, base, sftpAddr string, sim *mapisim.Sim, demo bool) {
	fmt.Fprintf(w, "paymux sim: Alipay mapi gateway simulator\n\n")
	fmt.Fprintf(w, "  gateway        %s/gateway.do\n", base)
	fmt.Fprintf(w, "  H5 cashier     %s/cashier/<token> (create_forex_trade_wap redirects there)\n", base)
	fmt.Fprintf(w, "  control API    %s/sim/ (POST /sim/pay with order_string, GET /sim/deliveries, POST /sim/faults, ...)\n", base)
	fmt.Fprintf(w, "  Alipay key     %s/sim/alipay-public-key\n", base)
	if sftpAddr != "" {
		fmt.Fprintf(w, "  SFTP (HK files) %s (user = HK partner id, test client key unless configured)\n", sftpAddr)
	}
	fmt.Fprintf(w, "\n  partners:\n")
	for _, p := range sim.Partners() {
		fmt.Fprintf(w, "    %s  %-6s  %-4s  %s\n", p.ID, p.Flavour, p.SignType, p.Name)
	}
	if demo {
		fmt.Fprintf(w, "\n  demo partners use the TEST merchant key providers/mapisim/testkeys/test-merchant-private-DO-NOT-USE.pem\n")
		fmt.Fprintf(w, "  and the TEST MD5 key %s (never use either for anything real)\n", mapisim.TestMD5Key)
	}
	fmt.Fprintf(w, "\nAlipay public key (configure it as the gateway's key):\n%s\n", sim.AlipayPublicKeyPEM())
}
