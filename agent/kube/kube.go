package kube

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	k8slabels "k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubemate/kmlog/agent/config"
	"github.com/kubemate/kmlog/format/labels"
)

// ErrConfig is wrapped by errors about a kubernetes_sd_configs entry that
// passed config validation but cannot be used (a bad selector).
var ErrConfig = errors.New("invalid kubernetes discovery config")

// DefaultNamespaceFile is where a pod's service account namespace is
// mounted; own_namespace reads it.
const DefaultNamespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// Options are a Discoverer's dependencies.
type Options struct {
	// Node is the node whose pods are discovered (the agent's
	// $HOSTNAME, which a DaemonSet sets from spec.nodeName). Required.
	Node string
	// Logger receives informer errors; nil discards them.
	Logger *slog.Logger
	// ResyncPeriod re-delivers every pod as an update this often; 0
	// disables it.
	ResyncPeriod time.Duration
	// NamespaceFile is read for namespaces.own_namespace (default
	// DefaultNamespaceFile).
	NamespaceFile string
}

// SendFunc receives a pod's target label sets under its source name; an
// empty list means the pod is gone (or has no IP yet). Calls are
// serialised, never concurrent.
type SendFunc func(source string, targets []labels.Labels)

// Discoverer watches the pods of one node. Create it with New and start
// it with Run.
type Discoverer struct {
	pods       corev1client.PodsGetter
	namespaces []string // "" means all
	fieldSel   string
	labelSel   string
	opts       Options

	mu     sync.Mutex
	send   SendFunc
	synced []cache.InformerSynced
}

// NewClient builds the API client a kubernetes_sd_configs entry asks
// for: from kubeconfig_file, from api_server (with its auth and TLS
// settings), or else the in-cluster service account (client-go reads
// the KUBERNETES_SERVICE_HOST/PORT it needs).
func NewClient(sd config.KubernetesSDConfig) (corev1client.CoreV1Interface, error) {
	rc, err := RESTConfig(sd)
	if err != nil {
		return nil, err
	}
	c, err := corev1client.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("create kubernetes client: %w", err)
	}
	return c, nil
}

// RESTConfig returns the client-go configuration for sd.
// attach_metadata, follow_redirects and enable_http2 are accepted by the
// config but have no effect here.
func RESTConfig(sd config.KubernetesSDConfig) (*rest.Config, error) {
	var rc *rest.Config
	var err error
	switch {
	case sd.KubeconfigFile != "":
		rc, err = clientcmd.BuildConfigFromFlags("", sd.KubeconfigFile)
		if err != nil {
			return nil, fmt.Errorf("load kubeconfig %s: %w", sd.KubeconfigFile, err)
		}
	case sd.APIServer != "":
		rc = &rest.Config{Host: sd.APIServer}
		rc.BearerToken = sd.BearerToken
		rc.BearerTokenFile = sd.BearerTokenFile
		if a := sd.Authorization; a != nil {
			// client-go sends "Bearer <token>"; other types are rare for
			// an API server and not supported.
			if a.Type != "" && !strings.EqualFold(a.Type, "bearer") {
				return nil, fmt.Errorf("%w: authorization type %q: only Bearer is supported", ErrConfig, a.Type)
			}
			rc.BearerToken = a.Credentials
			rc.BearerTokenFile = a.CredentialsFile
		}
		if b := sd.BasicAuth; b != nil {
			rc.Username = b.Username
			rc.Password = b.Password
			if b.PasswordFile != "" {
				p, err := os.ReadFile(b.PasswordFile)
				if err != nil {
					return nil, fmt.Errorf("read basic_auth password_file: %w", err)
				}
				rc.Password = strings.TrimSpace(string(p))
			}
		}
		rc.TLSClientConfig = rest.TLSClientConfig{
			CAFile:     sd.TLSConfig.CAFile,
			CertFile:   sd.TLSConfig.CertFile,
			KeyFile:    sd.TLSConfig.KeyFile,
			ServerName: sd.TLSConfig.ServerName,
			Insecure:   sd.TLSConfig.InsecureSkipVerify,
		}
		if sd.ProxyURL != "" {
			u, err := url.Parse(sd.ProxyURL)
			if err != nil {
				return nil, fmt.Errorf("%w: proxy_url: %v", ErrConfig, err)
			}
			rc.Proxy = http.ProxyURL(u)
		}
	default:
		rc, err = rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("load in-cluster kubernetes config: %w", err)
		}
	}
	rc.UserAgent = "kmlog-agent"
	return rc, nil
}

// New prepares a Discoverer for one kubernetes_sd_configs entry (role
// pod). The node field selector is always added to the entry's own
// field selector.
func New(pods corev1client.PodsGetter, sd config.KubernetesSDConfig, opts Options) (*Discoverer, error) {
	if opts.Node == "" {
		return nil, fmt.Errorf("%w: the node name is empty (is $HOSTNAME set?)", ErrConfig)
	}
	if sd.Role != "pod" {
		return nil, fmt.Errorf("%w: role %q: only pod is supported", ErrConfig, sd.Role)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.NamespaceFile == "" {
		opts.NamespaceFile = DefaultNamespaceFile
	}
	d := &Discoverer{pods: pods, opts: opts}
	fieldSels := []string{fields.OneTermEqualSelector("spec.nodeName", opts.Node).String()}
	for i, s := range sd.Selectors {
		if s.Field != "" {
			if _, err := fields.ParseSelector(s.Field); err != nil {
				return nil, fmt.Errorf("%w: selectors[%d].field: %v", ErrConfig, i, err)
			}
			fieldSels = append(fieldSels, s.Field)
		}
		if s.Label != "" {
			if _, err := k8slabels.Parse(s.Label); err != nil {
				return nil, fmt.Errorf("%w: selectors[%d].label: %v", ErrConfig, i, err)
			}
			d.labelSel = s.Label
		}
	}
	d.fieldSel = strings.Join(fieldSels, ",")
	d.namespaces = slices.Clone(sd.Namespaces.Names)
	if sd.Namespaces.OwnNamespace {
		b, err := os.ReadFile(opts.NamespaceFile)
		if err != nil {
			return nil, fmt.Errorf("read own namespace: %w", err)
		}
		d.namespaces = append(d.namespaces, strings.TrimSpace(string(b)))
	}
	slices.Sort(d.namespaces)
	d.namespaces = slices.Compact(d.namespaces)
	if len(d.namespaces) == 0 {
		d.namespaces = []string{metav1.NamespaceAll}
	}
	return d, nil
}

// FieldSelector returns the field selector sent to the API server.
func (d *Discoverer) FieldSelector() string { return d.fieldSel }

// Run starts one pod informer per namespace and calls send for every
// pod added, changed or deleted, until ctx ends. It returns nil then.
func (d *Discoverer) Run(ctx context.Context, send SendFunc) error {
	d.mu.Lock()
	d.send = send
	d.mu.Unlock()
	var wg sync.WaitGroup
	for _, ns := range d.namespaces {
		inf := d.informer(ns)
		if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { d.update(obj) },
			UpdateFunc: func(_, obj any) { d.update(obj) },
			DeleteFunc: func(obj any) { d.remove(obj) },
		}); err != nil {
			return fmt.Errorf("add pod event handler: %w", err)
		}
		if err := inf.SetWatchErrorHandlerWithContext(func(_ context.Context, _ *cache.Reflector, err error) {
			if !errors.Is(err, context.Canceled) {
				d.opts.Logger.Warn("kubernetes pod watch failed", "namespace", ns, "err", err)
			}
		}); err != nil {
			return fmt.Errorf("set pod watch error handler: %w", err)
		}
		d.mu.Lock()
		d.synced = append(d.synced, inf.HasSynced)
		d.mu.Unlock()
		wg.Go(func() { inf.RunWithContext(ctx) })
	}
	wg.Wait()
	return nil
}

// HasSynced reports whether every informer has listed its pods once.
func (d *Discoverer) HasSynced() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.synced) < len(d.namespaces) {
		return false
	}
	for _, s := range d.synced {
		if !s() {
			return false
		}
	}
	return true
}

func (d *Discoverer) informer(ns string) cache.SharedIndexInformer {
	tweak := func(o *metav1.ListOptions) {
		o.FieldSelector = d.fieldSel
		o.LabelSelector = d.labelSel
	}
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			tweak(&o)
			return d.pods.Pods(ns).List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			tweak(&o)
			return d.pods.Pods(ns).Watch(ctx, o)
		},
	}
	// A pods client that declares it cannot stream lists (client-go's
	// fake clientset) gets list-then-watch; a real one gets the
	// streaming list the API server offers.
	return cache.NewSharedIndexInformer(cache.ToListWatcherWithWatchListSemantics(lw, d.pods), &corev1.Pod{}, d.opts.ResyncPeriod, cache.Indexers{})
}

func (d *Discoverer) update(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	var targets []labels.Labels
	// The field selector should have kept other nodes' pods out; a pod
	// moved away (or a server ignoring selectors) counts as gone.
	if pod.Spec.NodeName == d.opts.Node {
		targets = PodTargets(pod)
	}
	d.emit(Source(pod.Namespace, pod.Name), targets)
}

func (d *Discoverer) remove(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	d.emit(Source(pod.Namespace, pod.Name), nil)
}

func (d *Discoverer) emit(source string, targets []labels.Labels) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.send(source, targets)
}
