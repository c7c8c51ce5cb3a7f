// Package labels holds the label set that names a log stream, its stable
// hash, its text form ({a="b", c="d"}) and label matchers.
//
// A Labels value is sorted by name and holds each name once; constructors
// establish that and every method relies on it. Hash is stable across
// processes and versions: it is stored in data files and used for ring
// placement, so changing it is a format change.
package labels

import (
	"slices"
	"strconv"
	"strings"

	"github.com/cespare/xxhash/v2"
)

// Label is one name/value pair.
type Label struct {
	Name, Value string
}

// Labels is a set of labels sorted by name, each name at most once.
type Labels []Label

// New returns the sorted set of ls. When a name repeats, the last value wins.
func New(ls ...Label) Labels {
	out := make(Labels, len(ls))
	copy(out, ls)
	slices.SortStableFunc(out, func(a, b Label) int { return strings.Compare(a.Name, b.Name) })
	// Keep the last of each run of equal names.
	w := 0
	for i := range out {
		if w > 0 && out[w-1].Name == out[i].Name {
			out[w-1] = out[i]
			continue
		}
		out[w] = out[i]
		w++
	}
	return out[:w]
}

// FromStrings builds labels from name, value pairs. It panics on an odd count.
func FromStrings(nv ...string) Labels {
	if len(nv)%2 != 0 {
		panic("BUG: labels.FromStrings needs name, value pairs")
	}
	ls := make([]Label, 0, len(nv)/2)
	for i := 0; i < len(nv); i += 2 {
		ls = append(ls, Label{nv[i], nv[i+1]})
	}
	return New(ls...)
}

// FromMap builds labels from a map.
func FromMap(m map[string]string) Labels {
	ls := make([]Label, 0, len(m))
	for n, v := range m {
		ls = append(ls, Label{n, v})
	}
	return New(ls...)
}

// Map returns the labels as a map.
func (ls Labels) Map() map[string]string {
	m := make(map[string]string, len(ls))
	for _, l := range ls {
		m[l.Name] = l.Value
	}
	return m
}

// Get returns the value of name, or "" when it is absent.
func (ls Labels) Get(name string) string {
	v, _ := ls.Lookup(name)
	return v
}

// Lookup returns the value of name and whether it is present.
func (ls Labels) Lookup(name string) (string, bool) {
	i, ok := slices.BinarySearchFunc(ls, name, func(l Label, n string) int { return strings.Compare(l.Name, n) })
	if !ok {
		return "", false
	}
	return ls[i].Value, true
}

// Has reports whether name is present.
func (ls Labels) Has(name string) bool {
	_, ok := ls.Lookup(name)
	return ok
}

// Equal reports whether two sets hold the same pairs.
func Equal(a, b Labels) bool { return slices.Equal(a, b) }

// Compare orders label sets: by names and values pairwise, then by length.
func Compare(a, b Labels) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if c := strings.Compare(a[i].Name, b[i].Name); c != 0 {
			return c
		}
		if c := strings.Compare(a[i].Value, b[i].Value); c != 0 {
			return c
		}
	}
	return len(a) - len(b)
}

var sep = []byte{0xff}

// Hash returns a stable 64-bit hash of the set. 0xff, which never occurs
// in UTF-8, separates names and values so that distinct sets do not collide
// by concatenation.
func (ls Labels) Hash() uint64 {
	h := xxhash.New()
	for _, l := range ls {
		_, _ = h.WriteString(l.Name)
		_, _ = h.Write(sep)
		_, _ = h.WriteString(l.Value)
		_, _ = h.Write(sep)
	}
	return h.Sum64()
}

// Without returns the set without the given names.
func (ls Labels) Without(names ...string) Labels {
	out := make(Labels, 0, len(ls))
	for _, l := range ls {
		if !slices.Contains(names, l.Name) {
			out = append(out, l)
		}
	}
	return out
}

// Only returns the set restricted to the given names.
func (ls Labels) Only(names ...string) Labels {
	out := make(Labels, 0, len(names))
	for _, l := range ls {
		if slices.Contains(names, l.Name) {
			out = append(out, l)
		}
	}
	return out
}

// String returns the Prometheus text form, {a="b", c="d"}.
func (ls Labels) String() string {
	var b strings.Builder
	b.Grow(len(ls) * 16)
	b.WriteByte('{')
	for i, l := range ls {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(l.Name)
		b.WriteByte('=')
		b.WriteString(strconv.Quote(l.Value))
	}
	b.WriteByte('}')
	return b.String()
}

// Builder edits a label set. Set and Del record changes; Labels applies them.
type Builder struct {
	base Labels
	add  []Label
	del  []string
}

// NewBuilder starts from base, which it does not modify.
func NewBuilder(base Labels) *Builder { return &Builder{base: base} }

// Set sets name to value; an empty value deletes the label.
func (b *Builder) Set(name, value string) *Builder {
	if value == "" {
		return b.Del(name)
	}
	b.del = slices.DeleteFunc(b.del, func(n string) bool { return n == name })
	for i := range b.add {
		if b.add[i].Name == name {
			b.add[i].Value = value
			return b
		}
	}
	b.add = append(b.add, Label{name, value})
	return b
}

// Del removes name.
func (b *Builder) Del(name string) *Builder {
	b.add = slices.DeleteFunc(b.add, func(l Label) bool { return l.Name == name })
	if !slices.Contains(b.del, name) {
		b.del = append(b.del, name)
	}
	return b
}

// Get returns the current value of name.
func (b *Builder) Get(name string) string {
	for _, l := range b.add {
		if l.Name == name {
			return l.Value
		}
	}
	if slices.Contains(b.del, name) {
		return ""
	}
	return b.base.Get(name)
}

// Labels returns the edited set.
func (b *Builder) Labels() Labels {
	if len(b.add) == 0 && len(b.del) == 0 {
		return b.base
	}
	out := make([]Label, 0, len(b.base)+len(b.add))
	for _, l := range b.base {
		if !slices.Contains(b.del, l.Name) {
			out = append(out, l)
		}
	}
	out = append(out, b.add...)
	return New(out...)
}
