// Command kmlog is the one binary of kmlog. With no arguments it runs every
// role in one process on a local-directory store; subcommands and -target
// select single roles.
//
//	kmlog                 all roles in one process (listens on 127.0.0.1:3100)
//	kmlog version         prints the version and exits
//	kmlog load            pushes generated logs at a running kmlog and reports the rate
//	kmlog bench           pushes a fixed corpus to kmlog and/or Loki, then times a query suite
//	kmlog agent           the node agent: reads a Promtail config, tails, ships
//
// main reads the config, wires the components by hand and stops them in
// reverse order. There is no module manager.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	// Mozilla's root certificates, used only where the system has none
	// (the kmlog image has no base image): S3 and JWKS over HTTPS work.
	_ "golang.org/x/crypto/x509roots/fallback"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "kmlog:", err)
		os.Exit(1)
	}
}

// run is main without the process: tests call it directly.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "version":
			fmt.Fprintln(stdout, versionString())
			return nil
		case "load":
			return runLoad(ctx, args[1:], stdout, stderr)
		case "bench":
			return runBench(ctx, args[1:], stdout, stderr)
		case "agent":
			return runAgent(ctx, args[1:], os.Stdin, stdout, stderr)
		}
	}
	fs := flag.NewFlagSet("kmlog", flag.ContinueOnError)
	fs.SetOutput(stderr)
	// Lambda and Knative functions get no arguments: the environment
	// gives the defaults of the two flags that matter there.
	configFile := fs.String("config.file", os.Getenv("KMLOG_CONFIG_FILE"), "YAML config file; ${VAR} and ${VAR:-default} are expanded from the environment (default $KMLOG_CONFIG_FILE)")
	target := fs.String("target", os.Getenv("KMLOG_TARGET"), "role to run: all, gateway, ingester, querier, frontend, compactor or ruler (overrides the config's target; default $KMLOG_TARGET)")
	listen := fs.String("server.http-listen-address", "", "override server.http_listen_address (host:port)")
	logLevel := fs.String("log.level", "", "override log.level (debug, info, warn, error)")
	demo := fs.Bool("demo", false, "feed the all-in-one process generated demo logs (demo.enabled)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unknown subcommand %q (want: version, load, bench, agent)", fs.Arg(0))
	}
	cfg, err := loadConfig(*configFile)
	if err != nil {
		return err
	}
	if *listen != "" {
		cfg.Server.HTTPListenAddress = *listen
	}
	if *logLevel != "" {
		cfg.Log.Level = *logLevel
	}
	if *target != "" {
		cfg.Target = *target
	}
	if *demo {
		cfg.Demo.Enabled = true
	}
	rulerEnv(&cfg.Ruler, os.Getenv)
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	logger := newLogger(cfg.Log, stderr)
	if lim := memoryLimit(cfg); lim > 0 && os.Getenv("GOMEMLIMIT") == "" {
		// Restored on return: tests run several servers in one process.
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(lim))
		logger.Debug("soft memory limit set", "bytes", lim)
	}

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	switch cfg.Target {
	case "all":
		return runAll(ctx, cfg, logger)
	case "gateway":
		return runGateway(ctx, cfg, logger)
	case "ingester":
		return runIngester(ctx, cfg, logger)
	case "querier":
		return runQuerier(ctx, cfg, logger)
	case "frontend":
		return runFrontend(ctx, cfg, logger)
	case "compactor":
		return runCompactor(ctx, cfg, logger)
	case "ruler":
		return runRuler(ctx, cfg, logger)
	}
	panic("BUG: Validate let target " + cfg.Target + " through")
}

func newLogger(cfg LogConfig, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Level)) // Validate checked it.
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
