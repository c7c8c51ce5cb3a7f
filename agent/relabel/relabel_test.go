package relabel

import (
	"errors"
	"strings"
	"testing"

	"github.com/kubemate/kmlog/format/labels"
)

// rule returns DefaultConfig edited by f.
func rule(f func(c *Config)) Config {
	c := DefaultConfig()
	f(&c)
	return c
}

func TestProcess(t *testing.T) {
	abc := `{a="foo", b="bar", c="baz"}`
	cases := []struct {
		name  string
		in    string
		rules []Config
		want  string // "" means dropped
	}{
		{"replace default regex copies a label", abc, []Config{rule(func(c *Config) {
			c.SourceLabels = []string{"a"}
			c.TargetLabel = "d"
		})}, `{a="foo", b="bar", c="baz", d="foo"}`},
		{"replace with capture group", abc, []Config{rule(func(c *Config) {
			c.SourceLabels = []string{"a"}
			c.Regex = "f(.*)"
			c.TargetLabel = "d"
			c.Replacement = "ch${1}-ch${1}"
		})}, `{a="foo", b="bar", c="baz", d="choo-choo"}`},
		{"regex is anchored: a partial match does nothing", abc, []Config{rule(func(c *Config) {
			c.SourceLabels = []string{"a"}
			c.Regex = "o+"
			c.TargetLabel = "d"
		})}, abc},
		{"regex is anchored at the start", abc, []Config{rule(func(c *Config) {
			c.SourceLabels = []string{"a"}
			c.Regex = "oo"
			c.TargetLabel = "a"
			c.Replacement = "x"
		})}, abc},
		{"explicit ^ and $ are harmless", abc, []Config{rule(func(c *Config) {
			c.SourceLabels = []string{"a"}
			c.Regex = "^f(o+)$"
			c.TargetLabel = "d"
		})}, `{a="foo", b="bar", c="baz", d="oo"}`},
		{"joined source labels with the default separator", abc, []Config{rule(func(c *Config) {
			c.SourceLabels = []string{"a", "b"}
			c.Regex = "f(.*);(.*)r"
			c.TargetLabel = "a"
			c.Replacement = "b${1}${2}m"
		})}, `{a="boobam", b="bar", c="baz"}`},
		{"custom separator", abc, []Config{rule(func(c *Config) {
			c.SourceLabels = []string{"a", "b"}
			c.Separator = "/"
			c.TargetLabel = "d"
		})}, `{a="foo", b="bar", c="baz", d="foo/bar"}`},
		{"missing source labels join as empty strings", abc, []Config{rule(func(c *Config) {
			c.SourceLabels = []string{"x", "a", "y"}
			c.TargetLabel = "d"
		})}, `{a="foo", b="bar", c="baz", d=";foo;"}`},
		{"no match leaves the target untouched", abc, []Config{rule(func(c *Config) {
			c.SourceLabels = []string{"a"}
			c.Regex = "nope"
			c.TargetLabel = "b"
			c.Replacement = "x"
		})}, abc},
		{"empty source value deletes the target (fast path)", abc, []Config{rule(func(c *Config) {
			c.SourceLabels = []string{"missing"}
			c.TargetLabel = "a"
		})}, `{b="bar", c="baz"}`},
		{"empty expansion deletes the target", abc, []Config{rule(func(c *Config) {
			c.SourceLabels = []string{"a"}
			c.Regex = "foo(.*)"
			c.TargetLabel = "b"
		})}, `{a="foo", c="baz"}`},
		{"constant replacement without source labels", abc, []Config{rule(func(c *Config) {
			c.TargetLabel = "job"
			c.Replacement = "varlogs"
		})}, `{a="foo", b="bar", c="baz", job="varlogs"}`},
		{"target label from a capture group", abc, []Config{rule(func(c *Config) {
			c.SourceLabels = []string{"a"}
			c.Regex = "f(.*)"
			c.TargetLabel = "x_${1}"
			c.Replacement = "y"
		})}, `{a="foo", b="bar", c="baz", x_oo="y"}`},
		{"invalid expanded target label is skipped", `{a="f-o"}`, []Config{rule(func(c *Config) {
			c.SourceLabels = []string{"a"}
			c.TargetLabel = "x_${1}"
			c.Replacement = "y"
		})}, `{a="f-o"}`},
		{"$0 is the whole value", abc, []Config{rule(func(c *Config) {
			c.SourceLabels = []string{"b"}
			c.Regex = "b.r"
			c.TargetLabel = "d"
			c.Replacement = "<$0>"
		})}, `{a="foo", b="bar", c="baz", d="<bar>"}`},
		{"named capture group", abc, []Config{rule(func(c *Config) {
			c.SourceLabels = []string{"c"}
			c.Regex = "(?P<head>b)(?P<tail>.*)"
			c.TargetLabel = "d"
			c.Replacement = "${tail}${head}"
		})}, `{a="foo", b="bar", c="baz", d="azb"}`},
		{"dot matches a newline (s flag)", `{a="x\ny"}`, []Config{rule(func(c *Config) {
			c.SourceLabels = []string{"a"}
			c.Regex = "x.y"
			c.TargetLabel = "d"
			c.Replacement = "nl"
		})}, `{a="x\ny", d="nl"}`},
		{"helm controller name strips the replicaset hash", `{__meta_kubernetes_pod_controller_name="web-7d4b9c8f6d"}`, []Config{rule(func(c *Config) {
			c.SourceLabels = []string{"__meta_kubernetes_pod_controller_name"}
			c.Regex = "([0-9a-z-.]+?)(-[0-9a-f]{8,10})?"
			c.TargetLabel = "__tmp_controller_name"
		})}, `{__meta_kubernetes_pod_controller_name="web-7d4b9c8f6d", __tmp_controller_name="web"}`},
		{"helm first non-empty of several labels", `{b="bar", c="baz"}`, []Config{rule(func(c *Config) {
			c.SourceLabels = []string{"a", "b", "c"}
			c.Regex = "^;*([^;]+)(;.*)?$"
			c.TargetLabel = "app"
		})}, `{app="bar", b="bar", c="baz"}`},
		{"keep matching", abc, []Config{rule(func(c *Config) {
			c.Action = Keep
			c.SourceLabels = []string{"a"}
			c.Regex = "f.*"
		})}, abc},
		{"keep not matching drops", abc, []Config{rule(func(c *Config) {
			c.Action = Keep
			c.SourceLabels = []string{"a"}
			c.Regex = "o.*"
		})}, ""},
		{"keep on a missing label with the default regex keeps", abc, []Config{rule(func(c *Config) {
			c.Action = Keep
			c.SourceLabels = []string{"x"}
		})}, abc},
		{"keep empty regex keeps only a missing label", abc, []Config{rule(func(c *Config) {
			c.Action = Keep
			c.SourceLabels = []string{"a"}
			c.Regex = ""
		})}, ""},
		{"drop matching", abc, []Config{rule(func(c *Config) {
			c.Action = Drop
			c.SourceLabels = []string{"a"}
			c.Regex = "f.*"
		})}, ""},
		{"drop not matching keeps", abc, []Config{rule(func(c *Config) {
			c.Action = Drop
			c.SourceLabels = []string{"a"}
			c.Regex = "bar"
		})}, abc},
		{"drop empty value", `{a="foo"}`, []Config{rule(func(c *Config) {
			c.Action = Drop
			c.SourceLabels = []string{"__service__"}
			c.Regex = ""
		})}, ""},
		{"drop stops later rules", abc, []Config{
			rule(func(c *Config) { c.Action = Drop; c.SourceLabels = []string{"a"}; c.Regex = "foo" }),
			rule(func(c *Config) { c.TargetLabel = "z"; c.Replacement = "never" }),
		}, ""},
		{"keepequal equal keeps", `{a="1", b="1"}`, []Config{rule(func(c *Config) {
			c.Action = KeepEqual
			c.SourceLabels = []string{"a"}
			c.TargetLabel = "b"
		})}, `{a="1", b="1"}`},
		{"keepequal different drops", `{a="1", b="2"}`, []Config{rule(func(c *Config) {
			c.Action = KeepEqual
			c.SourceLabels = []string{"a"}
			c.TargetLabel = "b"
		})}, ""},
		{"dropequal equal drops", `{a="1", b="1"}`, []Config{rule(func(c *Config) {
			c.Action = DropEqual
			c.SourceLabels = []string{"a"}
			c.TargetLabel = "b"
		})}, ""},
		{"dropequal different keeps", `{a="1", b="2"}`, []Config{rule(func(c *Config) {
			c.Action = DropEqual
			c.SourceLabels = []string{"a"}
			c.TargetLabel = "b"
		})}, `{a="1", b="2"}`},
		{"hashmod as Prometheus (md5, last 8 bytes)", abc, []Config{rule(func(c *Config) {
			c.Action = HashMod
			c.SourceLabels = []string{"c"}
			c.TargetLabel = "d"
			c.Modulus = 1000
		})}, `{a="foo", b="bar", c="baz", d="976"}`},
		{"hashmod over joined labels", abc, []Config{rule(func(c *Config) {
			c.Action = HashMod
			c.SourceLabels = []string{"a", "b"}
			c.TargetLabel = "d"
			c.Modulus = 1000
		})}, `{a="foo", b="bar", c="baz", d="750"}`},
		{"hashmod of a value with a newline", `{a="foo\nbar"}`, []Config{rule(func(c *Config) {
			c.Action = HashMod
			c.SourceLabels = []string{"a"}
			c.TargetLabel = "d"
			c.Modulus = 1000
		})}, `{a="foo\nbar", d="734"}`},
		{"labelmap copies with a new name", `{__meta_kubernetes_pod_label_app="web", __meta_kubernetes_pod_label_tier="fe", x="1"}`, []Config{rule(func(c *Config) {
			c.Action = LabelMap
			c.Regex = "__meta_kubernetes_pod_label_(.+)"
		})}, `{__meta_kubernetes_pod_label_app="web", __meta_kubernetes_pod_label_tier="fe", app="web", tier="fe", x="1"}`},
		{"labelmap with a replacement template", `{a="1", b="2"}`, []Config{rule(func(c *Config) {
			c.Action = LabelMap
			c.Regex = "(a)"
			c.Replacement = "new_${1}"
		})}, `{a="1", b="2", new_a="1"}`},
		{"labelmap is anchored", `{xa="1"}`, []Config{rule(func(c *Config) {
			c.Action = LabelMap
			c.Regex = "a"
			c.Replacement = "z"
		})}, `{xa="1"}`},
		{"labelmap collision: the later name wins", `{p_a="1", q_a="2"}`, []Config{rule(func(c *Config) {
			c.Action = LabelMap
			c.Regex = "[pq]_(a)"
		})}, `{a="2", p_a="1", q_a="2"}`},
		{"labeldrop", `{__tmp_x="1", a="foo", b="bar"}`, []Config{rule(func(c *Config) {
			c.Action = LabelDrop
			c.Regex = "__tmp_.*|b"
		})}, `{a="foo"}`},
		{"labeldrop is anchored", abc, []Config{rule(func(c *Config) {
			c.Action = LabelDrop
			c.Regex = "b.*x"
		})}, abc},
		{"labelkeep", `{__path__="/x", a="foo", b="bar"}`, []Config{rule(func(c *Config) {
			c.Action = LabelKeep
			c.Regex = "a|__path__"
		})}, `{__path__="/x", a="foo"}`},
		{"lowercase", `{a="FoO"}`, []Config{rule(func(c *Config) {
			c.Action = Lowercase
			c.SourceLabels = []string{"a"}
			c.TargetLabel = "b"
		})}, `{a="FoO", b="foo"}`},
		{"uppercase joined", `{a="foo", b="bar"}`, []Config{rule(func(c *Config) {
			c.Action = Uppercase
			c.SourceLabels = []string{"a", "b"}
			c.TargetLabel = "c"
		})}, `{a="foo", b="bar", c="FOO;BAR"}`},
		{"lowercase of nothing deletes the target", `{a="foo", b="x"}`, []Config{rule(func(c *Config) {
			c.Action = Lowercase
			c.SourceLabels = []string{"missing"}
			c.TargetLabel = "b"
		})}, `{a="foo"}`},
		{"later rules see earlier results", `{__meta_kubernetes_namespace="prod", app="web"}`, []Config{
			rule(func(c *Config) { c.SourceLabels = []string{"__meta_kubernetes_namespace"}; c.TargetLabel = "namespace" }),
			rule(func(c *Config) {
				c.SourceLabels = []string{"namespace", "app"}
				c.Separator = "/"
				c.TargetLabel = "job"
			}),
		}, `{__meta_kubernetes_namespace="prod", app="web", job="prod/web", namespace="prod"}`},
		{"helm __path__ from uid and container", `{__meta_kubernetes_pod_uid="1234-abcd", __meta_kubernetes_pod_container_name="app"}`, []Config{rule(func(c *Config) {
			c.SourceLabels = []string{"__meta_kubernetes_pod_uid", "__meta_kubernetes_pod_container_name"}
			c.Separator = "/"
			c.TargetLabel = "__path__"
			c.Replacement = "/var/log/pods/*$1/*.log"
		})}, `{__meta_kubernetes_pod_container_name="app", __meta_kubernetes_pod_uid="1234-abcd", __path__="/var/log/pods/*1234-abcd/app/*.log"}`},
		{"helm static pod path only when the config hash annotation is present", `{__meta_kubernetes_pod_container_name="app", __meta_kubernetes_pod_uid="u"}`, []Config{rule(func(c *Config) {
			c.SourceLabels = []string{"__meta_kubernetes_pod_annotationpresent_kubernetes_io_config_hash", "__meta_kubernetes_pod_annotation_kubernetes_io_config_hash", "__meta_kubernetes_pod_container_name"}
			c.Separator = "/"
			c.Regex = "true/(.*)"
			c.TargetLabel = "__path__"
			c.Replacement = "/var/log/pods/*$1/*.log"
		})}, `{__meta_kubernetes_pod_container_name="app", __meta_kubernetes_pod_uid="u"}`},
	}
	if len(cases) < 30 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rules, err := NewAll(tc.rules)
			if err != nil {
				t.Fatal(err)
			}
			in, err := labels.Parse(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			before := in.String()
			got, keep := Process(in, rules...)
			if in.String() != before {
				t.Errorf("input modified: %s", in)
			}
			if tc.want == "" {
				if keep {
					t.Fatalf("kept %s, want dropped", got)
				}
				return
			}
			if !keep {
				t.Fatalf("dropped, want %s", tc.want)
			}
			if got.String() != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	cases := []struct {
		name  string
		cfg   Config
		field string
		text  string
	}{
		{"unknown action", rule(func(c *Config) { c.Action = "foo"; c.TargetLabel = "x" }), "action", `unknown relabel action "foo"`},
		{"empty action", rule(func(c *Config) { c.Action = "" }), "action", "must not be empty"},
		{"bad regex", rule(func(c *Config) { c.Regex = "("; c.TargetLabel = "x" }), "regex", "missing closing )"},
		{"replace without target", rule(func(c *Config) {}), "target_label", "requires a target_label"},
		{"replace with invalid target", rule(func(c *Config) { c.TargetLabel = "1x" }), "target_label", "not a valid target label"},
		{"replace with invalid template target", rule(func(c *Config) { c.TargetLabel = "a-${1}" }), "target_label", "not a valid target label"},
		{"hashmod without modulus", rule(func(c *Config) { c.Action = HashMod; c.TargetLabel = "x" }), "modulus", "non-zero modulus"},
		{"lowercase with replacement", rule(func(c *Config) { c.Action = Lowercase; c.TargetLabel = "x"; c.Replacement = "y" }), "replacement", "must not be set"},
		{"keepequal with regex", rule(func(c *Config) { c.Action = KeepEqual; c.TargetLabel = "x"; c.Regex = "a" }), "regex", "must not be set"},
		{"labeldrop with source labels", rule(func(c *Config) { c.Action = LabelDrop; c.SourceLabels = []string{"a"} }), "source_labels", "must not be set"},
		{"labelkeep with target", rule(func(c *Config) { c.Action = LabelKeep; c.TargetLabel = "a" }), "target_label", "must not be set"},
		{"labelmap with invalid replacement", rule(func(c *Config) { c.Action = LabelMap; c.Replacement = "-$1" }), "replacement", "not a valid label name template"},
		{"invalid source label", rule(func(c *Config) { c.SourceLabels = []string{"a", "b-c"}; c.TargetLabel = "x" }), "source_labels[1]", "not a valid label name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			if err == nil {
				t.Fatal("no error")
			}
			fe, ok := errors.AsType[*FieldError](err)
			if !ok || fe.Field != tc.field {
				t.Fatalf("error %v: want field %q", err, tc.field)
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.text) {
				t.Errorf("error %q: want ErrInvalid and %q", err, tc.text)
			}
		})
	}
}

func TestActionCaseInsensitive(t *testing.T) {
	r, err := New(rule(func(c *Config) { c.Action = "LabelMap"; c.Regex = "x_(.*)" }))
	if err != nil {
		t.Fatal(err)
	}
	if r.Config().Action != LabelMap {
		t.Errorf("action %q", r.Config().Action)
	}
}

func TestNewAllNamesIndex(t *testing.T) {
	_, err := NewAll([]Config{rule(func(c *Config) { c.TargetLabel = "x" }), rule(func(c *Config) { c.Action = "foo" })})
	if err == nil || !strings.HasPrefix(err.Error(), "[1].action: ") {
		t.Fatalf("error %v", err)
	}
}
