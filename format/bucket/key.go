package bucket

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxKeyLen is the longest key, in bytes, that ValidateKey accepts: the
// S3 limit of 1024 less MaxPrefixLen, so that a key stays valid when a
// bucket puts a deployment prefix before it.
const MaxKeyLen = 1024 - MaxPrefixLen

// MaxPrefixLen is the longest prefix that an implementation may put before
// every key (see s3.Config.Prefix).
const MaxPrefixLen = 64

// MaxSegmentLen is the longest segment of a key, in bytes: the longest
// file name that common file systems allow.
const MaxSegmentLen = 255

// ErrInvalidKey is returned (wrapped) for a key that ValidateKey rejects.
var ErrInvalidKey = errors.New("invalid object key")

// ErrKeyConflict is returned (wrapped) by Dir and Mem for a Put of a key
// that is a whole-segment prefix of a stored key, or that has a stored key
// as one: "a" and "a/b" cannot both exist. See Bucket.
var ErrKeyConflict = errors.New("key conflicts with a stored key")

// ValidateKey reports whether key is a valid object key, the same for every
// implementation. A key is 1 to MaxKeyLen bytes of valid UTF-8 made of
// non-empty segments of at most MaxSegmentLen bytes, separated by single
// slashes. No segment starts with a
// dot (so "." and ".." are out, and so are names that the local-directory
// bucket keeps for itself), and a key holds no backslash and no control
// character. A valid key is always a local path on every operating system,
// so it can never name a file outside a Dir's root.
func ValidateKey(key string) error {
	if reason := keyProblem(key); reason != "" {
		return fmt.Errorf("%w %q: %s", ErrInvalidKey, key, reason)
	}
	return nil
}

func keyProblem(key string) string {
	switch {
	case key == "":
		return "empty"
	case len(key) > MaxKeyLen:
		return fmt.Sprintf("longer than %d bytes", MaxKeyLen)
	case !utf8.ValidString(key):
		return "not valid UTF-8"
	}
	for _, r := range key {
		switch {
		case r == '\\':
			return "contains a backslash"
		case r < 0x20 || r == 0x7f:
			return "contains a control character"
		}
	}
	for seg := range strings.SplitSeq(key, "/") {
		switch {
		case seg == "":
			return "has an empty segment (leading, trailing or double slash)"
		case seg[0] == '.':
			return "has a segment starting with a dot"
		case len(seg) > MaxSegmentLen:
			return fmt.Sprintf("has a segment longer than %d bytes", MaxSegmentLen)
		}
	}
	return ""
}

// ValidatePrefix checks a List prefix: empty, a key, a key followed by one
// slash, or a key whose last segment is cut short. It rejects, with
// ErrInvalidKey, what no valid key can start with.
func ValidatePrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	p := strings.TrimSuffix(prefix, "/")
	if reason := keyProblem(p); reason != "" {
		return fmt.Errorf("%w: list prefix %q: %s", ErrInvalidKey, prefix, reason)
	}
	return nil
}
