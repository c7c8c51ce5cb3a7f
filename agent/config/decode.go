package config

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// decodeStrict decodes node into the value ptr points to. Struct fields
// are matched by their yaml tags; a key without a field is an error
// naming it, and so is a value of the wrong type. Fields of type
// yaml.Node or []yaml.Node keep the raw YAML. Types with an
// UnmarshalYAML(*yaml.Node) method decode themselves; their errors get
// the path.
func decodeStrict(node *yaml.Node, ptr any) error {
	d := decoder{budget: maxNodes}
	return d.value(node, reflect.ValueOf(ptr).Elem(), "")
}

// maxNodes bounds the nodes one decode visits, counting each alias use
// again: a few aliases of aliases (a "billion laughs" document) would
// otherwise take forever, and a self-referencing alias never ends.
const maxNodes = 1 << 20

type decoder struct{ budget int }

// unsupporter is a struct that knows keys Promtail accepts but this agent
// does not implement; naming them gives a clearer error than "unknown".
type unsupporter interface {
	unsupportedKey(key string) (why string, ok bool)
}

var (
	nodeType        = reflect.TypeFor[yaml.Node]()
	unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()
)

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func errAt(path string, n *yaml.Node, format string, args ...any) error {
	line := 0
	if n != nil {
		line = n.Line
	}
	return &Error{Path: path, Line: line, Err: fmt.Errorf(format, args...)}
}

func (d *decoder) value(node *yaml.Node, v reflect.Value, path string) error {
	d.budget--
	if d.budget < 0 {
		return errAt(path, node, "document too large or aliases nested too deep")
	}
	if node.Kind == yaml.AliasNode && node.Alias != nil {
		node = node.Alias
	}
	t := v.Type()
	if t == nodeType {
		v.Set(reflect.ValueOf(*node))
		return nil
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		if isNull(node) {
			return nil
		}
		if err := v.Addr().Interface().(yaml.Unmarshaler).UnmarshalYAML(node); err != nil {
			return &Error{Path: path, Line: node.Line, Err: err}
		}
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		if isNull(node) {
			return nil
		}
		if node.Kind != yaml.MappingNode {
			return errAt(path, node, "expected a mapping, got %s", describe(node))
		}
		seen := make(map[string]bool, len(node.Content)/2)
		for i := 0; i+1 < len(node.Content); i += 2 {
			k, val := node.Content[i], node.Content[i+1]
			key := k.Value
			if k.Kind != yaml.ScalarNode {
				return errAt(path, k, "expected a key, got %s", describe(k))
			}
			if key == "<<" {
				return errAt(join(path, key), k, "merge keys are not supported")
			}
			if seen[key] {
				return errAt(join(path, key), k, "repeated key")
			}
			seen[key] = true
			f, ok := fieldByTag(t, key)
			if !ok {
				if u, ok := v.Interface().(unsupporter); ok {
					if why, ok := u.unsupportedKey(key); ok {
						return errAt(join(path, key), k, "not supported: %s", why)
					}
				}
				return errAt(join(path, key), k, "unknown key")
			}
			if err := d.value(val, v.FieldByIndex(f.Index), join(path, key)); err != nil {
				return err
			}
		}
		return nil
	case reflect.Pointer:
		if isNull(node) {
			v.SetZero()
			return nil
		}
		nv := reflect.New(t.Elem())
		if err := d.value(node, nv.Elem(), path); err != nil {
			return err
		}
		v.Set(nv)
		return nil
	case reflect.Slice:
		if isNull(node) {
			v.SetZero()
			return nil
		}
		if node.Kind != yaml.SequenceNode {
			return errAt(path, node, "expected a list, got %s", describe(node))
		}
		s := reflect.MakeSlice(t, len(node.Content), len(node.Content))
		for i, n := range node.Content {
			if err := d.value(n, s.Index(i), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		v.Set(s)
		return nil
	case reflect.Map:
		if isNull(node) {
			v.SetZero()
			return nil
		}
		if node.Kind != yaml.MappingNode {
			return errAt(path, node, "expected a mapping, got %s", describe(node))
		}
		if t.Key().Kind() != reflect.String {
			panic("BUG: config: map keys must be strings")
		}
		m := reflect.MakeMapWithSize(t, len(node.Content)/2)
		for i := 0; i+1 < len(node.Content); i += 2 {
			k, val := node.Content[i], node.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				return errAt(path, k, "expected a key, got %s", describe(k))
			}
			kv := reflect.ValueOf(k.Value).Convert(t.Key())
			if m.MapIndex(kv).IsValid() {
				return errAt(join(path, k.Value), k, "repeated key")
			}
			ev := reflect.New(t.Elem()).Elem()
			if err := d.value(val, ev, join(path, k.Value)); err != nil {
				return err
			}
			m.SetMapIndex(kv, ev)
		}
		v.Set(m)
		return nil
	}
	return decodeScalar(node, v, path)
}

func decodeScalar(node *yaml.Node, v reflect.Value, path string) error {
	if isNull(node) {
		v.SetZero()
		return nil
	}
	if node.Kind != yaml.ScalarNode {
		return errAt(path, node, "expected a %s, got %s", kindName(v.Kind()), describe(node))
	}
	s := node.Value
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		var b bool
		if err := node.Decode(&b); err != nil {
			return errAt(path, node, "expected a boolean, got %s", describe(node))
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64, reflect.Int32:
		i, err := strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 0, v.Type().Bits())
		if err != nil {
			return errAt(path, node, "expected an integer, got %s", describe(node))
		}
		v.SetInt(i)
	case reflect.Uint, reflect.Uint64, reflect.Uint32:
		u, err := strconv.ParseUint(strings.ReplaceAll(s, "_", ""), 0, v.Type().Bits())
		if err != nil {
			return errAt(path, node, "expected a non-negative integer, got %s", describe(node))
		}
		v.SetUint(u)
	case reflect.Float64:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(f) {
			return errAt(path, node, "expected a number, got %s", describe(node))
		}
		v.SetFloat(f)
	default:
		panic(fmt.Sprintf("BUG: config: cannot decode into %s", v.Type()))
	}
	return nil
}

func kindName(k reflect.Kind) string {
	switch k {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Float64:
		return "number"
	}
	return "integer"
}

func isNull(n *yaml.Node) bool {
	return n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.ScalarNode:
		return strconv.Quote(n.Value)
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	}
	return "nothing"
}

func fieldByTag(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == key && name != "" && name != "-" {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// Duration is a time.Duration written as Go ("1m30s", "250ms") or
// Prometheus ("1d", "1w") duration text.
type Duration time.Duration

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("expected a duration, got %s", describe(n))
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// ParseDuration reads Go duration text, or Prometheus's units d, w and y
// (1d = 24h, 1w = 7d, 1y = 365d) in forms such as "1d12h".
func ParseDuration(s string) (time.Duration, error) {
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return 0, fmt.Errorf("invalid duration %q: negative", s)
		}
		return d, nil
	}
	rest := s
	var total time.Duration
	units := map[string]time.Duration{"y": 365 * 24 * time.Hour, "w": 7 * 24 * time.Hour, "d": 24 * time.Hour}
	for rest != "" {
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		j := i
		for j < len(rest) && (rest[j] < '0' || rest[j] > '9') {
			j++
		}
		if i == 0 || i == j {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		n, err := strconv.ParseInt(rest[:i], 10, 32)
		if err != nil {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		unit := rest[i:j]
		u, ok := units[unit]
		if !ok {
			d, err := time.ParseDuration(rest[:j])
			if err != nil {
				return 0, fmt.Errorf("invalid duration %q", s)
			}
			u, n = d, 1
		}
		total += time.Duration(n) * u
		if total < 0 || total > 100*365*24*time.Hour {
			return 0, fmt.Errorf("invalid duration %q: too long", s)
		}
		rest = rest[j:]
	}
	if s == "" {
		return 0, errors.New("invalid duration \"\"")
	}
	return total, nil
}

// ByteSize is a size in bytes written as a number or with a unit: "256",
// "256KB", "1MiB" (base-2 units: KB = KiB = 1024, as the agent's
// pipeline reads sizes).
type ByteSize int64

// UnmarshalYAML implements yaml.Unmarshaler.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("expected a size, got %s", describe(n))
	}
	v, err := ParseByteSize(n.Value)
	if err != nil {
		return err
	}
	*b = ByteSize(v)
	return nil
}

// ParseByteSize reads a size such as "256", "64kB" or "1.5MiB".
func ParseByteSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if u, err := strconv.ParseUint(s, 10, 62); err == nil {
		return int64(u), nil
	}
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		i++
	}
	f, err := strconv.ParseFloat(s[:i], 64)
	if err != nil || i == 0 {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	var mult float64
	switch strings.ToUpper(strings.TrimSpace(s[i:])) {
	case "B":
		mult = 1
	case "K", "KB", "KIB":
		mult = 1 << 10
	case "M", "MB", "MIB":
		mult = 1 << 20
	case "G", "GB", "GIB":
		mult = 1 << 30
	default:
		return 0, fmt.Errorf("invalid size %q: unknown unit", s)
	}
	f *= mult
	if f > 1<<40 {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	return int64(f), nil
}
