package discovery

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// ErrBadPattern is returned for a malformed __path__ or __path_exclude__
// glob.
var ErrBadPattern = errors.New("bad glob pattern")

// maxBraceExpansions bounds the patterns one {a,b}{c,d} glob expands to.
const maxBraceExpansions = 256

// Glob returns the paths that match pattern, sorted. Besides the syntax
// of path.Match (*, ?, [...], \ escapes) it understands two forms of
// the doublestar library that Promtail uses: "**" as a whole path
// segment matches zero or more directories, and {a,b} alternatives.
// Symbolic links to directories are not followed by "**" (so a loop
// cannot trap it) but are followed by ordinary segments.
func Glob(pattern string) ([]string, error) {
	pats, err := expandBraces(pattern)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, p := range pats {
		if _, err := path.Match(strings.ReplaceAll(p, "**", "*"), ""); err != nil {
			return nil, ErrBadPattern
		}
		root, rest := ".", p
		if strings.HasPrefix(p, "/") {
			root, rest = "/", strings.TrimLeft(p, "/")
		}
		segs := strings.Split(rest, "/")
		segs = slices.DeleteFunc(segs, func(s string) bool { return s == "" })
		globDir(root, collapseStars(segs), &out)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func hasMeta(s string) bool { return strings.ContainsAny(s, `*?[\`) }

func globDir(dir string, segs []string, out *[]string) {
	if len(segs) == 0 {
		*out = append(*out, dir)
		return
	}
	seg, rest := segs[0], segs[1:]
	switch {
	case seg == "**":
		// Zero directories, then each subdirectory with ** still ahead.
		globDir(dir, rest, out)
		entries, err := os.ReadDir(dir)
		if err != nil {
			return
		}
		for _, e := range entries {
			if e.IsDir() { // DirEntry.IsDir does not follow symlinks
				globDir(filepath.Join(dir, e.Name()), segs, out)
			}
		}
	case !hasMeta(seg):
		p := filepath.Join(dir, seg)
		if _, err := os.Lstat(p); err == nil {
			globDir(p, rest, out)
		}
	default:
		entries, err := os.ReadDir(dir)
		if err != nil {
			return
		}
		for _, e := range entries {
			if ok, _ := path.Match(seg, e.Name()); ok {
				globDir(filepath.Join(dir, e.Name()), rest, out)
			}
		}
	}
}

// Match reports whether name matches pattern with Glob's syntax, without
// touching the file system (for __path_exclude__).
func Match(pattern, name string) (bool, error) {
	pats, err := expandBraces(pattern)
	if err != nil {
		return false, err
	}
	nameSegs := strings.Split(name, "/")
	for _, p := range pats {
		ok, err := matchSegs(collapseStars(strings.Split(p, "/")), nameSegs)
		if err != nil {
			return false, err
		}
		if ok {
			return true, nil
		}
	}
	return false, nil
}

func matchSegs(pat, name []string) (bool, error) {
	for len(pat) > 0 {
		if pat[0] == "**" {
			for i := 0; i <= len(name); i++ {
				if ok, err := matchSegs(pat[1:], name[i:]); ok || err != nil {
					return ok, err
				}
			}
			return false, nil
		}
		if len(name) == 0 {
			return false, nil
		}
		ok, err := path.Match(pat[0], name[0])
		if err != nil {
			return false, ErrBadPattern
		}
		if !ok {
			return false, nil
		}
		pat, name = pat[1:], name[1:]
	}
	return len(name) == 0, nil
}

// collapseStars merges runs of "**" segments, which match the same as
// one and would multiply the work.
func collapseStars(segs []string) []string {
	return slices.CompactFunc(segs, func(a, b string) bool { return a == "**" && b == "**" })
}

// expandBraces turns "a{b,c}d" into ["abd", "acd"], nested braces too.
func expandBraces(p string) ([]string, error) {
	out := []string{}
	var expand func(string) error
	expand = func(s string) error {
		if len(out) > maxBraceExpansions {
			return ErrBadPattern
		}
		open := -1
	find:
		for i := 0; i < len(s); i++ {
			switch s[i] {
			case '\\':
				i++
			case '{':
				open = i
				break find
			}
		}
		if open < 0 {
			if strings.ContainsAny(s, "}") && !strings.Contains(s, `\}`) {
				return ErrBadPattern
			}
			out = append(out, s)
			return nil
		}
		depth, start := 0, open+1
		var alts []string
		for i := open; i < len(s); i++ {
			switch s[i] {
			case '\\':
				i++
			case '{':
				depth++
			case '}':
				depth--
				if depth == 0 {
					alts = append(alts, s[start:i])
					for _, a := range alts {
						if err := expand(s[:open] + a + s[i+1:]); err != nil {
							return err
						}
					}
					return nil
				}
			case ',':
				if depth == 1 {
					alts = append(alts, s[start:i])
					start = i + 1
				}
			}
		}
		return ErrBadPattern
	}
	if err := expand(p); err != nil {
		return nil, err
	}
	return out, nil
}

// isRegular reports whether p is (or links to) a regular file.
func isRegular(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().Type()&fs.ModeType == 0
}
