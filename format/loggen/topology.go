package loggen

import (
	"strconv"
	"strings"

	"github.com/kubemate/kmlog/format/labels"
	"github.com/kubemate/kmlog/format/tenant"
)

// level is a log level; each level of a pod is a stream of its own.
type level uint8

const (
	levelDebug level = iota
	levelInfo
	levelWarn
	levelError
	numLevels
)

var levelNames = [numLevels]string{"debug", "info", "warn", "error"}

// source is one container of one pod: the thing that writes log lines. Its
// streams differ only in the level label.
type source struct {
	tenant  tenant.ID
	ns      string
	app     *appSpec
	appName string
	pod     string
	group   group
	streams [numLevels]labels.Labels
	stacks  []stackSig // Java apps: the stack traces this app's code throws
	weight  uint64

	// The request the pod is serving: its trace ID is repeated on the next
	// `left` traced lines.
	trace string
	meta  labels.Labels
	left  int
}

// buildTopology creates every tenant's namespaces, apps and pods.
func buildTopology(cfg Config, tenants []tenant.ID) []*source {
	var out []*source
	for ti, id := range tenants {
		r := newRNG(cfg.Seed, 0x746f706f6c6f6779^uint64(ti)*0x9e3779b97f4a7c15)
		// Each app gets a Zipf weight by its rank in a shuffled order, so a
		// few apps are much busier than the rest.
		nApps := cfg.Namespaces * cfg.Apps
		rank := make([]int, nApps)
		for i := range rank {
			rank[i] = i
		}
		for i := nApps - 1; i > 0; i-- {
			j := r.intn(i + 1)
			rank[i], rank[j] = rank[j], rank[i]
		}
		gt := newTable(groupWeights[:])
		slot := 0
		for n := range cfg.Namespaces {
			ns := namespaceNames[n%len(namespaceNames)]
			if n >= len(namespaceNames) {
				ns += "-" + strconv.Itoa(n/len(namespaceNames)+1)
			}
			used := map[string]bool{}
			for range cfg.Apps {
				g := group(gt.pick(r.u64()))
				switch {
				case slot < int(numGroups):
					g = group(slot) // the first apps cover every group
				case ns == "kube-system":
					g = groupPlain
				}
				spec, name := pickApp(r, appsByGroup[g], used)
				// Zipf: the app ranked k gets 1/k of the top app's traffic.
				appWeight := uint64(1e9) / uint64(rank[slot]+1)
				out = append(out, buildPods(r, id, ns, spec, name, g, appWeight, cfg.PodsPerApp)...)
				slot++
			}
		}
	}
	return out
}

// pickApp picks an app of pool not yet used in the namespace, or numbers a
// second copy when all are used.
func pickApp(r rng, pool []appSpec, used map[string]bool) (*appSpec, string) {
	i0 := r.intn(len(pool))
	for k := range pool {
		if spec := &pool[(i0+k)%len(pool)]; !used[spec.name] {
			used[spec.name] = true
			return spec, spec.name
		}
	}
	for k := 2; ; k++ {
		if name := pool[i0].name + "-" + strconv.Itoa(k); !used[name] {
			used[name] = true
			return &pool[i0], name
		}
	}
}

func buildPods(r rng, id tenant.ID, ns string, spec *appSpec, name string, g group, w uint64, pods int) []*source {
	container := spec.container
	if container == "" {
		container = name
	}
	var stacks []stackSig
	if g == groupJava {
		stacks = buildStacks(r, spec.pkg)
	}
	hash := randName(r, 10)
	out := make([]*source, 0, pods)
	for p := range pods {
		pod := name + "-" + hash + "-" + randName(r, 5)
		if spec.stateful {
			pod = name + "-" + strconv.Itoa(p)
		}
		s := &source{
			tenant: id, ns: ns, app: spec, appName: name, pod: pod, group: g, stacks: stacks,
			// Replicas behind one Service get similar but unequal traffic.
			weight: w / 1000 * uint64(600+r.intn(800)),
		}
		for l := range numLevels {
			s.streams[l] = labels.FromStrings(
				"namespace", ns, "app", name, "pod", pod, "container", container, "level", levelNames[l])
		}
		out = append(out, s)
	}
	return out
}

// randName returns n characters of the Kubernetes name-suffix alphabet.
func randName(r rng, n int) string {
	var b strings.Builder
	b.Grow(n)
	for range n {
		b.WriteByte(k8sAlphabet[r.intn(len(k8sAlphabet))])
	}
	return b.String()
}

// weightsOf converts source weights to integer table weights.
func weightsOf(srcs []*source) table {
	w := make([]uint64, len(srcs))
	for i, s := range srcs {
		w[i] = s.weight + 1
	}
	return newTable(w)
}
