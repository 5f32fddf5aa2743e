package main

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"opencen/internal/cluster"
	"opencen/internal/config"
	"opencen/internal/server"
	"opencen/internal/store"
)

func serverCmd() *cobra.Command {
	var (
		o          server.Options
		configPath string
		logLevel   string
	)
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the API server on its embedded store (or on etcd with --store etcd)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if o.Log, o.Config, err = logAndCatalog(logLevel, configPath); err != nil {
				return err
			}
			o.AdminKeyID = os.Getenv("OPENCEN_ACCESS_KEY_ID")
			o.AdminSecret = os.Getenv("OPENCEN_ACCESS_KEY_SECRET")
			return server.Run(cmd.Context(), o, nil)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Listen, "listen", "127.0.0.1:8080", "address to serve the API and console on")
	f.StringVar(&o.MetricsListen, "metrics-listen", "", "address to serve Prometheus metrics on (/metrics; off when empty)")
	f.StringVar(&o.DataDir, "data", "./opencen-data", "directory of the embedded store and its nonce journal (--store bolt) and, with either store, of this server's own files (admin-credentials, secret.key)")
	f.StringVar(&o.Store.Kind, "store", server.StoreBolt, "where state is kept: bolt (embedded file in --data) or etcd (a cluster several servers can share)")
	f.StringSliceVar(&o.Store.Etcd.Endpoints, "etcd-endpoints", nil, "etcd client URLs, comma-separated (--store etcd); https:// with the TLS options")
	f.StringVar(&o.Store.Etcd.Prefix, "etcd-prefix", "", "key prefix in etcd, so several deployments can share one (default "+store.DefaultEtcdPrefix+")")
	f.StringVar(&o.Store.Etcd.CACert, "etcd-cacert", "", "PEM file of the CA that signed the etcd members' certificates")
	f.StringVar(&o.Store.Etcd.Cert, "etcd-cert", "", "PEM client certificate for etcd (with --etcd-key)")
	f.StringVar(&o.Store.Etcd.Key, "etcd-key", "", "PEM key of --etcd-cert")
	f.DurationVar(&o.LeaderTTL, "leader-ttl", cluster.DefaultTTL, "with --store etcd: a server that stops renewing its lease (it died, or lost etcd) is replaced as the controllers' leader, and leaves the cluster status, within this")
	f.StringVar(&configPath, "config", "", "YAML or TOML file with regions, zones and quotas")
	f.DurationVar(&o.TransitionDelay, "transition-delay", time.Second, "how long transitional statuses (Creating, Deleting ...) last")
	f.StringVar(&o.SecretKeyFile, "secret-key-file", "", "32-byte key sealing secrets at rest, created when missing (default <data>/secret.key); every server on one etcd needs the same")
	f.BoolVar(&o.SecureCookie, "console-secure-cookie", false, "mark the console's session cookie Secure even on plain HTTP (behind a TLS-terminating proxy)")
	d := server.DefaultLimits()
	f.DurationVar(&o.Limits.ReadTimeout, "read-timeout", d.ReadTimeout, "a request's headers and body must arrive within this")
	f.DurationVar(&o.Limits.WriteTimeout, "write-timeout", d.WriteTimeout, "a client must take a response within this of its first byte")
	f.DurationVar(&o.Limits.IdleTimeout, "idle-timeout", d.IdleTimeout, "keep-alive connections idle longer are closed")
	f.IntVar(&o.Limits.MaxConnections, "max-connections", d.MaxConnections, "open connections at once (more wait in the listen backlog)")
	f.IntVar(&o.Limits.MaxRequests, "max-requests", d.MaxRequests, "requests served at once (more wait up to --read-timeout, then get ServiceUnavailable)")
	f.Int64Var(&o.Limits.MaxBodyBytes, "max-body-bytes", d.MaxBodyBytes, "request body bytes held at once over all requests (one body is at most 4 MiB)")
	f.IntVar(&o.Limits.MaxNonces, "max-nonces", d.MaxNonces, "signature nonces remembered at once (the 15-minute replay window); beyond, requests get ServiceUnavailable")
	f.IntVar(&o.Limits.AnswerCacheBytes, "answer-cache-bytes", d.AnswerCacheBytes, "bytes of answers kept for repeated reads (negative disables)")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	f.StringVar(&o.Gateway.Mode, "gateway", "auto", "in-process data plane: auto (on as root with strongSwan and a WAN), on or off")
	dataPlaneFlags(f, &o.Gateway)
	return cmd
}

// logAndCatalog are what `opencen server` and `opencen gateway` read first: the logger at
// --log-level and the catalog of --config.
func logAndCatalog(level, configPath string) (*slog.Logger, config.Config, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, config.Config{}, fmt.Errorf("--log-level: %w", err)
	}
	cfg, err := config.Load(configPath)
	if err != nil {
		return nil, config.Config{}, err
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl})), cfg, nil
}
