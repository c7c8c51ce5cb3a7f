package loggen

// This file holds the cluster vocabulary: namespaces, apps and their log
// styles. The tables are read-only.

var namespaceNames = []string{
	"prod", "staging", "payments", "kube-system", "monitoring", "ingress-nginx",
	"data", "batch", "risk", "dev", "qa", "sandbox",
}

// group is the kind of software an app is, which decides its log formats.
type group uint8

const (
	groupJava  group = iota // JVM service: JSON lines and Java stack traces
	groupGo                 // Go service: logfmt
	groupNginx              // nginx: access logs
	groupPlain              // infrastructure: plain text in several styles
	numGroups
)

// plainStyle is the text style of a groupPlain app.
type plainStyle uint8

const (
	styleKlog plainStyle = iota
	styleCoreDNS
	stylePostgres
	styleRedis
	styleText
	numStyles
)

type appSpec struct {
	name      string
	container string // "" means the app name
	pkg       string // Java package under com.kubemate, or Go module dir
	stateful  bool   // StatefulSet: pods are name-0, name-1, ...
	style     plainStyle
}

var appsByGroup = [numGroups][]appSpec{
	groupJava: {
		{name: "trading-service", pkg: "trading"},
		{name: "ledger", pkg: "ledger"},
		{name: "payments-api", pkg: "payments"},
		{name: "risk-engine", pkg: "risk"},
		{name: "settlement", pkg: "settlement"},
		{name: "order-service", pkg: "orders"},
		{name: "account-service", pkg: "accounts"},
		{name: "market-data", pkg: "marketdata"},
		{name: "fx-rates", pkg: "fx"},
		{name: "reconciliation", pkg: "recon"},
		{name: "clearing", pkg: "clearing"},
		{name: "notification-service", pkg: "notify"},
		{name: "kyc-service", pkg: "kyc"},
		{name: "loyalty", pkg: "loyalty"},
	},
	groupGo: {
		{name: "api-gateway", pkg: "gateway"},
		{name: "auth", pkg: "auth"},
		{name: "checkout", pkg: "checkout"},
		{name: "inventory", pkg: "inventory"},
		{name: "pricing", pkg: "pricing"},
		{name: "user-profile", pkg: "profile"},
		{name: "webhook-dispatcher", pkg: "webhooks"},
		{name: "rate-limiter", pkg: "ratelimit"},
		{name: "search", pkg: "search"},
		{name: "cart", pkg: "cart"},
		{name: "shipping", pkg: "shipping"},
		{name: "session-store", pkg: "session"},
	},
	groupNginx: {
		{name: "nginx-ingress", container: "controller"},
		{name: "frontend-web", container: "nginx"},
		{name: "static-assets", container: "nginx"},
		{name: "admin-portal", container: "nginx"},
		{name: "docs-site", container: "nginx"},
		{name: "mobile-bff", container: "nginx"},
	},
	groupPlain: {
		{name: "coredns", style: styleCoreDNS},
		{name: "kube-proxy", style: styleKlog},
		{name: "postgres", stateful: true, style: stylePostgres},
		{name: "redis", stateful: true, style: styleRedis},
		{name: "cluster-autoscaler", style: styleKlog},
		{name: "batch-reports", style: styleText},
		{name: "metrics-server", style: styleKlog},
		{name: "etl-worker", style: styleText},
		{name: "postgres-replica", container: "postgres", stateful: true, style: stylePostgres},
		{name: "redis-cache", container: "redis", stateful: true, style: styleRedis},
		{name: "cron-cleanup", style: styleText},
	},
}

// groupWeights decide the group of an app slot beyond the first four,
// which cover one group each.
var groupWeights = [numGroups]uint64{groupJava: 35, groupGo: 30, groupNginx: 15, groupPlain: 20}

// k8sAlphabet is the alphabet Kubernetes uses for generated name suffixes.
const k8sAlphabet = "bcdfghjklmnpqrstvwxz2456789"
