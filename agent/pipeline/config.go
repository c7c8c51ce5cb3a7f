package pipeline

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// ErrConfig is wrapped by every configuration error.
var ErrConfig = errors.New("invalid pipeline config")

// ConfigError is a configuration error at Path (pipeline_stages[2].json or
// pipeline_stages[0].match.stages[1].regex), about Key when one is named.
type ConfigError struct {
	Path string
	Key  string
	Line int // line in the YAML text, 0 when unknown
	Err  error
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString(e.Path)
	if e.Key != "" {
		b.WriteString(": ")
		b.WriteString(e.Key)
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, " (line %d)", e.Line)
	}
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *ConfigError) Unwrap() []error { return []error{ErrConfig, e.Err} }

// keyError is returned by stage constructors about one key; the builder
// adds the path.
type keyError struct {
	key  string
	line int // 0 when unknown
	err  error
}

func (e *keyError) Error() string { return e.key + ": " + e.err.Error() }
func (e *keyError) Unwrap() error { return e.err }

func errKey(key, format string, args ...any) error {
	return &keyError{key: key, err: fmt.Errorf(format, args...)}
}

// decodeStrict decodes node into the value that ptr points to. Struct
// fields are matched by their yaml tags; a mapping key without a field is
// an error naming it, as is a value of the wrong type. Fields of type
// yaml.Node or []yaml.Node keep the raw YAML (match's stages).
func decodeStrict(node *yaml.Node, ptr any) error {
	return decodeValue(node, reflect.ValueOf(ptr).Elem(), "")
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

var nodeType = reflect.TypeFor[yaml.Node]()

func decodeValue(node *yaml.Node, v reflect.Value, path string) error {
	if node.Kind == yaml.AliasNode && node.Alias != nil {
		node = node.Alias
	}
	t := v.Type()
	switch {
	case t == nodeType:
		v.Set(reflect.ValueOf(*node))
		return nil
	case t.Kind() == reflect.Struct:
		if isNull(node) {
			return nil
		}
		if node.Kind != yaml.MappingNode {
			return &keyError{key: path, line: node.Line, err: fmt.Errorf("expected a mapping, got %s", describe(node))}
		}
		for i := 0; i+1 < len(node.Content); i += 2 {
			k, val := node.Content[i], node.Content[i+1]
			f, ok := fieldByTag(t, k.Value)
			if !ok {
				return &keyError{key: join(path, k.Value), line: k.Line, err: errors.New("unknown key")}
			}
			if err := decodeValue(val, v.FieldByIndex(f.Index), join(path, k.Value)); err != nil {
				return err
			}
		}
		return nil
	case t.Kind() == reflect.Pointer && (t.Elem().Kind() == reflect.Struct):
		if isNull(node) {
			return nil
		}
		nv := reflect.New(t.Elem())
		if err := decodeValue(node, nv.Elem(), path); err != nil {
			return err
		}
		v.Set(nv)
		return nil
	case t.Kind() == reflect.Map && t.Elem().Kind() == reflect.Struct:
		if isNull(node) {
			return nil
		}
		if node.Kind != yaml.MappingNode {
			return &keyError{key: path, line: node.Line, err: fmt.Errorf("expected a mapping, got %s", describe(node))}
		}
		m := reflect.MakeMap(t)
		for i := 0; i+1 < len(node.Content); i += 2 {
			k, val := node.Content[i], node.Content[i+1]
			ev := reflect.New(t.Elem()).Elem()
			if err := decodeValue(val, ev, join(path, k.Value)); err != nil {
				return err
			}
			m.SetMapIndex(reflect.ValueOf(k.Value).Convert(t.Key()), ev)
		}
		v.Set(m)
		return nil
	}
	if err := node.Decode(v.Addr().Interface()); err != nil {
		msg := err.Error()
		var te *yaml.TypeError
		if errors.As(err, &te) && len(te.Errors) > 0 {
			msg = strings.Join(te.Errors, "; ")
		}
		return &keyError{key: path, line: node.Line, err: errors.New(yamlLinePrefix.ReplaceAllString(msg, ""))}
	}
	return nil
}

// yamlLinePrefix is the "line N: " that yaml.v3 puts before its messages;
// ConfigError carries the line itself.
var yamlLinePrefix = regexp.MustCompile(`(^|; )line \d+: `)

// keyLine returns the line of the key that path starts with in cfg, or
// cfg's own line.
func keyLine(cfg *yaml.Node, path string) int {
	first, _, _ := strings.Cut(path, ".")
	if cfg.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(cfg.Content); i += 2 {
			if cfg.Content[i].Value == first {
				return cfg.Content[i].Line
			}
		}
	}
	return cfg.Line
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

// stringOrList is a YAML value that is one string or a list of strings
// (drop's source).
type stringOrList []string

func (s *stringOrList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*s = stringOrList{n.Value}
		return nil
	}
	var l []string
	if err := n.Decode(&l); err != nil {
		return errors.New("expected a string or a list of strings")
	}
	*s = l
	return nil
}

// byteSize is a size such as 256, "256KB" or "1MiB" with base-2 units
// (KB = KiB = 1024), like Promtail's flagext.ByteSize.
type byteSize int

func (b *byteSize) UnmarshalYAML(n *yaml.Node) error {
	v, err := parseByteSize(n.Value)
	if err != nil {
		return err
	}
	*b = byteSize(v)
	return nil
}

func parseByteSize(s string) (int, error) {
	s = strings.TrimSpace(s)
	if u, err := strconv.ParseUint(s, 10, 62); err == nil {
		return int(u), nil
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
	case "T", "TB", "TIB":
		mult = 1 << 40
	default:
		return 0, fmt.Errorf("invalid size %q: unknown unit", s)
	}
	f *= mult
	if f > math.MaxInt32*float64(1<<20) {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	return int(f), nil
}

// duration is a Go duration string ("3s", "500ms").
type duration time.Duration

func (d *duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("invalid duration %q", n.Value)
	}
	*d = duration(v)
	return nil
}

// getString converts an extracted value to a string as Promtail does;
// nil, maps and lists cannot be converted.
func getString(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	case bool:
		if v {
			return "true", true
		}
		return "false", true
	case int:
		return strconv.Itoa(v), true
	case int64:
		return strconv.FormatInt(v, 10), true
	case uint64:
		return strconv.FormatUint(v, 10), true
	case float32:
		return strconv.FormatFloat(float64(v), 'f', -1, 32), true
	}
	return "", false
}

// getFloat converts an extracted value to a number as Promtail's metrics
// stage does: numbers, booleans (1 or 0), numeric strings and duration
// strings (in seconds).
func getFloat(v any) (float64, bool) {
	switch v := v.(type) {
	case float64:
		return v, true
	case int:
		return float64(v), true
	case int64:
		return float64(v), true
	case uint64:
		return float64(v), true
	case float32:
		return float64(v), true
	case bool:
		if v {
			return 1, true
		}
		return 0, true
	case string:
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			return f, true
		}
		if d, err := time.ParseDuration(v); err == nil {
			return d.Seconds(), true
		}
	}
	return 0, false
}
