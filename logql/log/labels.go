package log

import (
	"slices"
	"strings"
	"sync"

	"github.com/kubemate/kmlog/format/labels"
)

// LabelsResult is the label set of a processed line: immutable, shared
// between lines that produce the same set, so callers must not modify
// Labels(). Hash equals Labels().Hash().
type LabelsResult struct {
	lbs  labels.Labels
	hash uint64

	strOnce sync.Once
	str     string
}

func newLabelsResult(lbs labels.Labels, hash uint64) *LabelsResult {
	return &LabelsResult{lbs: lbs, hash: hash}
}

// Labels returns the sorted set. Do not modify it.
func (r *LabelsResult) Labels() labels.Labels { return r.lbs }

// Hash returns labels.Labels.Hash of the set, computed once.
func (r *LabelsResult) Hash() uint64 { return r.hash }

// String returns the set's text form, computed once.
func (r *LabelsResult) String() string {
	r.strOnce.Do(func() { r.str = r.lbs.String() })
	return r.str
}

// LabelsBuilder holds the labels of the line being processed: the stream's
// labels (the base), the line's structured metadata and the labels parsers
// extracted, minus deletions, plus the line's error. Stages read and edit
// it; the pipeline resets it before each line. It is not safe for
// concurrent use.
type LabelsBuilder struct {
	base labels.Labels
	// add holds metadata and parsed labels, one entry per name.
	add []labels.Label
	// del holds base names that were deleted.
	del []string

	err, errDetails string

	// scratch space reused by result and Map.
	scratch []labels.Label
	tail    []labels.Label
	m       map[string]string
	mValid  bool

	// md holds the names in add that came from structured metadata.
	md []string
	// parsed holds the names parsers extracted from the line: a later
	// parser does not overwrite them (the first value of a key wins).
	parsed []string

	// suffixed interns name+"_extracted" per name.
	suffixed map[string]string
}

// NewLabelsBuilder returns a builder over the stream labels base.
func NewLabelsBuilder(base labels.Labels) *LabelsBuilder {
	return &LabelsBuilder{base: base}
}

// Reset forgets every change since the builder was created.
func (b *LabelsBuilder) Reset() {
	b.add = b.add[:0]
	b.del = b.del[:0]
	b.md = b.md[:0]
	b.parsed = b.parsed[:0]
	b.err, b.errDetails = "", ""
	b.mValid = false
}

// Base returns the stream labels.
func (b *LabelsBuilder) Base() labels.Labels { return b.base }

// BaseHas reports whether the stream labels hold name.
func (b *LabelsBuilder) BaseHas(name string) bool { return b.base.Has(name) }

// ParsedName returns the name under which a parser stores the extracted
// label name: name itself, or name+"_extracted" when a stream label or
// the line's structured metadata already has that name (Loki's collision
// rule).
func (b *LabelsBuilder) ParsedName(name string) string {
	if !b.base.Has(name) && !b.isMetadata(name) {
		return name
	}
	return b.suffix(name)
}

// isMetadata reports whether name is a structured metadata label of the
// line that is still present.
func (b *LabelsBuilder) isMetadata(name string) bool {
	if len(b.md) == 0 || !slices.Contains(b.md, name) {
		return false
	}
	return b.inAdd(name)
}

func (b *LabelsBuilder) suffix(name string) string {
	if s, ok := b.suffixed[name]; ok {
		return s
	}
	if b.suffixed == nil {
		b.suffixed = make(map[string]string)
	}
	s := name + "_extracted"
	b.suffixed[name] = s
	return s
}

// AddMetadata adds a line's structured metadata. A name that collides with
// a stream label gets the _extracted suffix; __error__ and
// __error_details__ restore the line's error.
func (b *LabelsBuilder) AddMetadata(md labels.Labels) {
	for _, l := range md {
		switch l.Name {
		case ErrorLabel:
			b.err = l.Value
			continue
		case ErrorDetailsLabel:
			b.errDetails = l.Value
			continue
		}
		name := l.Name
		if b.base.Has(name) {
			name = b.suffix(name)
		}
		b.Set(name, l.Value)
		b.md = append(b.md, name)
	}
}

// Get returns the current value of name and whether it is present.
// Empty values are present. The error labels are not seen here: use Err.
func (b *LabelsBuilder) Get(name string) (string, bool) {
	for i := range b.add {
		if b.add[i].Name == name {
			return b.add[i].Value, true
		}
	}
	if len(b.del) > 0 && slices.Contains(b.del, name) {
		return "", false
	}
	return b.base.Lookup(name)
}

// Set sets name to value. Empty values are kept, as in Loki.
func (b *LabelsBuilder) Set(name, value string) {
	b.mValid = false
	if len(b.del) > 0 {
		if i := slices.Index(b.del, name); i >= 0 {
			b.del = slices.Delete(b.del, i, i+1)
		}
	}
	for i := range b.add {
		if b.add[i].Name == name {
			b.add[i].Value = value
			return
		}
	}
	b.add = append(b.add, labels.Label{Name: name, Value: value})
}

// SetParsed sets a label a parser extracted from the line, unless a parser
// already extracted name from this line: as in Loki, the first value of a
// key wins, within one parser and across parsers.
func (b *LabelsBuilder) SetParsed(name, value string) {
	if slices.Contains(b.parsed, name) {
		return
	}
	b.parsed = append(b.parsed, name)
	b.Set(name, value)
}

// Del removes name.
func (b *LabelsBuilder) Del(name string) {
	b.mValid = false
	for i := range b.add {
		if b.add[i].Name == name {
			b.add = slices.Delete(b.add, i, i+1)
			break
		}
	}
	if b.base.Has(name) && !slices.Contains(b.del, name) {
		b.del = append(b.del, name)
	}
}

// SetErr records the line's error kind (the __error__ label).
func (b *LabelsBuilder) SetErr(kind string) { b.err = kind; b.mValid = false }

// SetErrorDetails records the __error_details__ label.
func (b *LabelsBuilder) SetErrorDetails(d string) { b.errDetails = d; b.mValid = false }

// setError records kind and details, keeping an earlier error.
func (b *LabelsBuilder) setError(kind string, err error) {
	b.SetErr(kind)
	if err != nil {
		b.SetErrorDetails(err.Error())
	}
}

// Err returns the error kind, "" when the line has none.
func (b *LabelsBuilder) Err() string { return b.err }

// ErrDetails returns the error details.
func (b *LabelsBuilder) ErrDetails() string { return b.errDetails }

// HasErr reports whether the line has an error.
func (b *LabelsBuilder) HasErr() bool { return b.err != "" }

// ResetError clears __error__.
func (b *LabelsBuilder) ResetError() { b.err = ""; b.mValid = false }

// ResetErrorDetails clears __error_details__.
func (b *LabelsBuilder) ResetErrorDetails() { b.errDetails = ""; b.mValid = false }

// unchanged reports whether the result equals the stream labels.
func (b *LabelsBuilder) unchanged() bool {
	return len(b.add) == 0 && len(b.del) == 0 && b.err == "" && b.errDetails == ""
}

// Range calls fn for each current label in unspecified order, the error
// labels included.
func (b *LabelsBuilder) Range(fn func(name, value string)) {
	for _, l := range b.base {
		if len(b.del) > 0 && slices.Contains(b.del, l.Name) {
			continue
		}
		if b.inAdd(l.Name) {
			continue
		}
		fn(l.Name, l.Value)
	}
	for _, l := range b.add {
		fn(l.Name, l.Value)
	}
	if b.err != "" {
		fn(ErrorLabel, b.err)
	}
	if b.errDetails != "" {
		fn(ErrorDetailsLabel, b.errDetails)
	}
}

func (b *LabelsBuilder) inAdd(name string) bool {
	for i := range b.add {
		if b.add[i].Name == name {
			return true
		}
	}
	return false
}

// Map returns the current labels as a map, error labels included. The map
// is reused: it is valid until the next change to the builder.
func (b *LabelsBuilder) Map() map[string]string {
	if b.mValid {
		return b.m
	}
	if b.m == nil {
		b.m = make(map[string]string, len(b.base)+len(b.add)+2)
	}
	clear(b.m)
	b.Range(func(n, v string) { b.m[n] = v })
	b.mValid = true
	return b.m
}

// appendLabels appends the current sorted set, error labels included, to
// dst and returns it.
func (b *LabelsBuilder) appendLabels(dst []labels.Label) []labels.Label {
	tail := append(b.tail[:0], b.add...)
	if b.err != "" {
		tail = append(tail, labels.Label{Name: ErrorLabel, Value: b.err})
	}
	if b.errDetails != "" {
		tail = append(tail, labels.Label{Name: ErrorDetailsLabel, Value: b.errDetails})
	}
	slices.SortFunc(tail, func(x, y labels.Label) int { return strings.Compare(x.Name, y.Name) })
	b.tail = tail
	i, j := 0, 0
	for i < len(b.base) || j < len(tail) {
		if j == len(tail) || (i < len(b.base) && b.base[i].Name < tail[j].Name) {
			l := b.base[i]
			i++
			if len(b.del) > 0 && slices.Contains(b.del, l.Name) {
				continue
			}
			dst = append(dst, l)
			continue
		}
		if i < len(b.base) && b.base[i].Name == tail[j].Name {
			i++ // the added label replaces the base one
		}
		dst = append(dst, tail[j])
		j++
	}
	return dst
}

// Labels returns a fresh copy of the current sorted set.
func (b *LabelsBuilder) Labels() labels.Labels {
	return labels.Labels(b.appendLabels(nil))
}

// resultCache interns LabelsResults by hash so that lines producing the
// same label set share one result and allocate nothing.
type resultCache struct {
	base *LabelsResult
	m    map[uint64]*LabelsResult
}

// maxCachedResults bounds the per-stream cache; past it the cache restarts.
const maxCachedResults = 4096

func newResultCache(base labels.Labels) resultCache {
	return resultCache{base: newLabelsResult(base, base.Hash())}
}

// result returns the interned result of the builder's current set.
func (c *resultCache) result(b *LabelsBuilder) *LabelsResult {
	if b.unchanged() {
		return c.base
	}
	b.scratch = b.appendLabels(b.scratch[:0])
	cur := labels.Labels(b.scratch)
	h := cur.Hash()
	if r, ok := c.m[h]; ok && labels.Equal(r.lbs, cur) {
		return r
	}
	r := newLabelsResult(slices.Clone(cur), h)
	if c.m == nil {
		c.m = make(map[uint64]*LabelsResult)
	}
	if len(c.m) >= maxCachedResults {
		clear(c.m)
	}
	c.m[h] = r
	return r
}
