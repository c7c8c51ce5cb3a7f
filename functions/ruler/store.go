package ruler

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/kubemate/kmlog/format/bucket"
	"github.com/kubemate/kmlog/format/tenant"
)

// Object keys of the ruler. Rules and state live under the tenant's
// prefix; namespace and group names are base64url-encoded (no padding)
// into one key segment each, so any name is a safe key.
//
//	<tenant>/rules/<ns>/<group>.yaml              one rule group, as posted
//	<tenant>/ruler/state/<ns>/<group>.json        its alerts' state and last evaluation
//	<tenant>/ruler/lease/<ns>/<group>/<unix ms>   evaluation lease: created only once
//	~ruler/tenants/<tenant>                        the tenants that have rules
//
// "~" cannot start a tenant ID, so the tenant list never collides with a
// tenant's objects; it spares each tick a listing of the whole bucket.
const tenantsPrefix = "~ruler/tenants/"

var enc = base64.RawURLEncoding

func encName(s string) string { return enc.EncodeToString([]byte(s)) }

func decName(s string) (string, error) {
	b, err := enc.DecodeString(s)
	return string(b), err
}

func rulesPrefix(t tenant.ID) string { return string(t) + "/rules/" }

func groupKey(t tenant.ID, ns, group string) string {
	return rulesPrefix(t) + encName(ns) + "/" + encName(group) + ".yaml"
}

func stateKey(t tenant.ID, ns, group string) string {
	return string(t) + "/ruler/state/" + encName(ns) + "/" + encName(group) + ".json"
}

func leaseKey(t tenant.ID, ns, group string, at time.Time) string {
	return string(t) + "/ruler/lease/" + encName(ns) + "/" + encName(group) + "/" + strconv.FormatInt(at.UnixMilli(), 10)
}

// Errors of the rule store, with Loki's texts.
var (
	ErrGroupNotFound     = errors.New("group does not exist")
	ErrNamespaceNotFound = errors.New("group namespace does not exist")
	ErrNoRuleGroups      = errors.New("no rule groups found")
)

// StoredGroup is a rule group with its namespace.
type StoredGroup struct {
	Namespace string
	RuleGroup
}

// Store keeps rule groups in a bucket. It is safe for concurrent use.
type Store struct {
	bkt bucket.Bucket
}

// NewStore returns a Store over bkt.
func NewStore(bkt bucket.Bucket) *Store { return &Store{bkt: bkt} }

// Tenants lists the tenants that have (or had) rules.
func (s *Store) Tenants(ctx context.Context) ([]tenant.ID, error) {
	var out []tenant.ID
	err := s.bkt.List(ctx, tenantsPrefix, func(oi bucket.ObjectInfo) error {
		t, err := tenant.Parse(strings.TrimPrefix(oi.Key, tenantsPrefix))
		if err != nil {
			return nil // not ours
		}
		out = append(out, t)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list ruler tenants: %w", err)
	}
	return out, nil
}

// groupRef names a stored group.
type groupRef struct {
	ns, name, key string
}

// list returns the groups of t (of namespace ns only, when not empty),
// sorted by namespace then group name.
func (s *Store) list(ctx context.Context, t tenant.ID, ns string) ([]groupRef, error) {
	prefix := rulesPrefix(t)
	if ns != "" {
		prefix += encName(ns) + "/"
	}
	var out []groupRef
	err := s.bkt.List(ctx, prefix, func(oi bucket.ObjectInfo) error {
		rest := strings.TrimPrefix(oi.Key, rulesPrefix(t))
		nsEnc, file, ok := strings.Cut(rest, "/")
		if !ok {
			return nil
		}
		gEnc, ok := strings.CutSuffix(file, ".yaml")
		if !ok {
			return nil
		}
		n, err1 := decName(nsEnc)
		g, err2 := decName(gEnc)
		if err1 != nil || err2 != nil {
			return nil
		}
		out = append(out, groupRef{ns: n, name: g, key: oi.Key})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list rule groups of %s: %w", t, err)
	}
	slices.SortFunc(out, func(a, b groupRef) int {
		if c := strings.Compare(a.ns, b.ns); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})
	return out, nil
}

func (s *Store) load(ctx context.Context, ref groupRef) (StoredGroup, error) {
	data, err := bucket.ReadAll(ctx, s.bkt, ref.key)
	if err != nil {
		if errors.Is(err, bucket.ErrNotExist) {
			return StoredGroup{}, ErrGroupNotFound
		}
		return StoredGroup{}, fmt.Errorf("read rule group %s/%s: %w", ref.ns, ref.name, err)
	}
	var g RuleGroup
	if err := yaml.Unmarshal(data, &g); err != nil {
		return StoredGroup{}, fmt.Errorf("decode rule group %s/%s: %w", ref.ns, ref.name, err)
	}
	return StoredGroup{Namespace: ref.ns, RuleGroup: g}, nil
}

// Groups returns the groups of t, of namespace ns only when ns is not
// empty, sorted by namespace and name.
func (s *Store) Groups(ctx context.Context, t tenant.ID, ns string) ([]StoredGroup, error) {
	refs, err := s.list(ctx, t, ns)
	if err != nil {
		return nil, err
	}
	out := make([]StoredGroup, 0, len(refs))
	for _, r := range refs {
		g, err := s.load(ctx, r)
		if errors.Is(err, ErrGroupNotFound) {
			continue // deleted since the listing
		}
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, nil
}

// Group returns one group.
func (s *Store) Group(ctx context.Context, t tenant.ID, ns, name string) (StoredGroup, error) {
	return s.load(ctx, groupRef{ns: ns, name: name, key: groupKey(t, ns, name)})
}

// checkNames refuses names that cannot be stored.
func checkNames(ns, group string) error {
	if ns == "" {
		return errors.New("a namespace must be provided in the request")
	}
	if len(ns) > maxNameLen {
		return fmt.Errorf("namespace is longer than %d bytes", maxNameLen)
	}
	if len(group) > maxNameLen {
		return fmt.Errorf("group name is longer than %d bytes", maxNameLen)
	}
	return nil
}

// Put stores a validated group in namespace ns, replacing the group of the
// same name.
func (s *Store) Put(ctx context.Context, t tenant.ID, ns string, g RuleGroup) error {
	if err := checkNames(ns, g.Name); err != nil {
		return err
	}
	if err := g.Validate(); err != nil {
		return err
	}
	data, err := yaml.Marshal(&g)
	if err != nil {
		return fmt.Errorf("encode rule group: %w", err)
	}
	// The tenant marker first: a group is never stored where no tick looks.
	if err := s.markTenant(ctx, t); err != nil {
		return err
	}
	if err := bucket.PutBytes(ctx, s.bkt, groupKey(t, ns, g.Name), data); err != nil {
		return fmt.Errorf("store rule group %s/%s: %w", ns, g.Name, err)
	}
	return nil
}

func (s *Store) markTenant(ctx context.Context, t tenant.ID) error {
	key := tenantsPrefix + string(t)
	if _, err := s.bkt.Stat(ctx, key); err == nil {
		return nil
	}
	if err := bucket.PutBytes(ctx, s.bkt, key, nil); err != nil {
		return fmt.Errorf("mark ruler tenant %s: %w", t, err)
	}
	return nil
}

// Delete removes one group and its state. Deleting a group that does not
// exist is not an error, as in Loki (whose object stores delete
// idempotently).
func (s *Store) Delete(ctx context.Context, t tenant.ID, ns, name string) error {
	if err := s.bkt.Delete(ctx, groupKey(t, ns, name)); err != nil {
		return fmt.Errorf("delete rule group %s/%s: %w", ns, name, err)
	}
	if err := s.bkt.Delete(ctx, stateKey(t, ns, name)); err != nil {
		return fmt.Errorf("delete rule group state %s/%s: %w", ns, name, err)
	}
	return nil
}

// DeleteNamespace removes every group of a namespace.
func (s *Store) DeleteNamespace(ctx context.Context, t tenant.ID, ns string) error {
	refs, err := s.list(ctx, t, ns)
	if err != nil {
		return err
	}
	if len(refs) == 0 {
		return ErrNamespaceNotFound
	}
	for _, r := range refs {
		if err := s.Delete(ctx, t, r.ns, r.name); err != nil {
			return err
		}
	}
	return nil
}

// loadState reads a group's state; a missing one is the zero state.
func loadState(ctx context.Context, bkt bucket.Bucket, t tenant.ID, ns, group string) (groupState, int64, error) {
	data, err := bucket.ReadAll(ctx, bkt, stateKey(t, ns, group))
	if errors.Is(err, bucket.ErrNotExist) {
		return groupState{}, 0, nil
	}
	if err != nil {
		return groupState{}, 0, fmt.Errorf("read state of %s/%s: %w", ns, group, err)
	}
	var st groupState
	if err := json.Unmarshal(data, &st); err != nil {
		// A state that does not decode is lost, not fatal: alerts start
		// afresh (pending), as after a Prometheus restart.
		return groupState{}, int64(len(data)), nil
	}
	return st, int64(len(data)), nil
}

func saveState(ctx context.Context, bkt bucket.Bucket, t tenant.ID, ns, group string, st *groupState) (int64, error) {
	var b bytes.Buffer
	if err := json.NewEncoder(&b).Encode(st); err != nil {
		return 0, fmt.Errorf("encode state: %w", err)
	}
	if err := bucket.PutBytes(ctx, bkt, stateKey(t, ns, group), b.Bytes()); err != nil {
		return 0, fmt.Errorf("store state of %s/%s: %w", ns, group, err)
	}
	return int64(b.Len()), nil
}
