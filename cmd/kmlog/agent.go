package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kubemate/kmlog/agent/agent"
	"github.com/kubemate/kmlog/agent/config"
	"github.com/kubemate/kmlog/agent/kube"
	"github.com/kubemate/kmlog/agent/pipeline"
	"github.com/kubemate/kmlog/format/labels"
)

// runAgent is `kmlog agent`: the node agent.
//
//	kmlog agent -config.file promtail.yaml [-config.expand-env] [-log.level info]
//	kmlog agent -config.file promtail.yaml -dry-run [-dry-run.job name] < lines
func runAgent(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("kmlog agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configFile := fs.String("config.file", "", "Promtail-style YAML config file (required)")
	expandEnv := fs.Bool("config.expand-env", false, "expand ${VAR} and ${VAR:-default} in the config file from the environment")
	logLevel := fs.String("log.level", "", "override server.log_level (debug, info, warn, error)")
	dryRun := fs.Bool("dry-run", false, "read lines from stdin, run them through one job's pipeline and print the entries; ship nothing")
	dryRunJob := fs.String("dry-run.job", "", "the job whose pipeline -dry-run uses (default: the first scrape config)")
	inspect := fs.Bool("inspect", false, "with -dry-run, also print each entry's extracted values")
	dropReport := fs.Duration("drop-report.interval", 10*time.Second, "how often what limit stages dropped is shipped as a drop report (stream {kmlog_agent=\"drops\"})")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("kmlog agent: unexpected argument %q", fs.Arg(0))
	}
	if *configFile == "" {
		return errors.New("kmlog agent: -config.file is required")
	}
	var lookup func(string) (string, bool)
	if *expandEnv {
		lookup = os.LookupEnv
	}
	cfg, err := config.Load(*configFile, lookup)
	if err != nil {
		return err
	}
	if *logLevel != "" {
		cfg.Server.LogLevel = *logLevel
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.Server.LogLevel)); err != nil {
		return fmt.Errorf("kmlog agent: -log.level: %w", err)
	}
	hopts := &slog.HandlerOptions{Level: level}
	var logger *slog.Logger
	if cfg.Server.LogFormat == "json" {
		logger = slog.New(slog.NewJSONHandler(stderr, hopts))
	} else {
		logger = slog.New(slog.NewTextHandler(stderr, hopts))
	}
	logger = logger.With("component", "agent")

	if *dryRun {
		return agentDryRun(ctx, *cfg, *dryRunJob, *inspect, stdin, stdout, logger)
	}

	hostname := os.Getenv("HOSTNAME")
	if hostname == "" {
		hostname, _ = os.Hostname()
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return agent.Run(ctx, *cfg, agent.Options{
		DropReportInterval: *dropReport,
		Hostname:           hostname,
		Logger:             logger,
		Registerer:         reg,
		Gatherer:           reg,
		Discover:           discoverPods(logger),
	})
}

// discoverPods wires agent/kube, the only client-go user, into the agent.
func discoverPods(logger *slog.Logger) agent.DiscoverFunc {
	return func(ctx context.Context, sd config.KubernetesSDConfig, node string, send func(string, []labels.Labels)) error {
		client, err := kube.NewClient(sd)
		if err != nil {
			return err
		}
		d, err := kube.New(client, sd, kube.Options{Node: node, Logger: logger.With("component", "kube")})
		if err != nil {
			return err
		}
		return d.Run(ctx, kube.SendFunc(send))
	}
}

// agentDryRun runs the lines of in through one job's pipeline and prints
// every entry that comes out: time, labels, line, and structured
// metadata (Promtail's --dry-run). The job's static labels stand in for
// a target's, reserved ones included, as in Promtail.
func agentDryRun(ctx context.Context, cfg config.Config, jobName string, inspect bool, in io.Reader, out io.Writer, logger *slog.Logger) error {
	if len(cfg.ScrapeConfigs) == 0 {
		return errors.New("kmlog agent -dry-run: the config has no scrape_configs")
	}
	sc := cfg.ScrapeConfigs[0]
	if jobName != "" {
		found := false
		for _, c := range cfg.ScrapeConfigs {
			if c.JobName == jobName {
				sc, found = c, true
			}
		}
		if !found {
			return fmt.Errorf("kmlog agent -dry-run: no job %q", jobName)
		}
	}
	p, err := pipeline.New(sc.PipelineStages, pipeline.Options{Logger: logger, JobName: sc.JobName})
	if err != nil {
		return fmt.Errorf("job %s: %w", sc.JobName, err)
	}
	b := labels.NewBuilder(nil)
	for _, st := range sc.StaticConfigs {
		for n, v := range st.Labels {
			b.Set(n, v) // reserved (__) labels too, as Promtail's stdin target
		}
	}
	ls := b.Labels()
	// Promtail's dry-run printer: a tabwriter flushed after every entry,
	// the time in its own zone, the tenant as a __tenant_id__ label.
	w := tabwriter.NewWriter(out, 0, 8, 0, '\t', 0)
	emit := func(es []pipeline.Entry) {
		for _, e := range es {
			lbls := e.Labels
			if e.Tenant != "" {
				lbls = labels.NewBuilder(lbls).Set(tenantLabel, e.Tenant).Labels()
			}
			fmt.Fprintf(w, "%s\t%s\t%s", e.Timestamp.Format(dryRunTimeFormat), lbls, e.Line)
			if inspect {
				if len(e.Metadata) > 0 {
					fmt.Fprintf(w, "\tmetadata=%s", e.Metadata)
				}
				fmt.Fprintf(w, "\textracted=%s", extractedString(e.Extracted))
			}
			w.Write([]byte{'\n'})
			w.Flush()
		}
	}
	sc2 := bufio.NewScanner(in)
	sc2.Buffer(make([]byte, 64<<10), 4<<20)
	var buf []pipeline.Entry
	for sc2.Scan() {
		// As Promtail reads stdin: trailing CR/LF cut, empty lines skipped.
		line := strings.TrimRight(sc2.Text(), "\r\n")
		if line == "" {
			continue
		}
		buf = p.Process(ctx, pipeline.Entry{Labels: ls, Timestamp: time.Now(), Line: line}, buf[:0])
		emit(buf)
	}
	if err := sc2.Err(); err != nil {
		return fmt.Errorf("read stdin: %w", err)
	}
	emit(p.FlushEnd(ctx, buf[:0]))
	return w.Flush()
}

// tenantLabel is how Promtail's dry run shows an entry's tenant.
const tenantLabel = "__tenant_id__"

// dryRunTimeFormat is the time layout of Promtail's dry-run output.
const dryRunTimeFormat = "2006-01-02T15:04:05.999999999-0700"

// extractedString prints the extracted map sorted by key.
func extractedString(m map[string]any) string {
	ls := labels.NewBuilder(nil)
	for k, v := range m {
		ls.Set(k, fmt.Sprint(v))
	}
	return ls.Labels().String()
}
