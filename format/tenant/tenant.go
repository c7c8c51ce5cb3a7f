// Package tenant defines the tenant identifier that prefixes every object
// key and every query, and validates it with Loki's rules.
//
// A valid ID has 1 to 150 bytes drawn from ASCII letters, digits and the
// characters !-_.*'() and is neither "." nor "..". Validation happens once,
// where an ID enters the system (the gateway, a config file, a CLI flag);
// below that an ID value is trusted, so a bad ID can never become a path
// outside the tenant's prefix.
package tenant

import (
	"errors"
	"fmt"
)

// MaxLength is the longest tenant ID accepted, in bytes.
const MaxLength = 150

// Fake is the tenant Loki uses when auth is off and no X-Scope-OrgID is sent.
const Fake ID = "fake"

// ID names one tenant. The zero value is not a valid ID.
type ID string

// ErrInvalid is wrapped by every validation error from Parse.
var ErrInvalid = errors.New("invalid tenant ID")

// Parse validates s and returns it as an ID.
func Parse(s string) (ID, error) {
	switch {
	case s == "":
		return "", fmt.Errorf("%w: empty", ErrInvalid)
	case len(s) > MaxLength:
		return "", fmt.Errorf("%w: %d bytes, the limit is %d", ErrInvalid, len(s), MaxLength)
	case s == "." || s == "..":
		return "", fmt.Errorf("%w: %q is not allowed", ErrInvalid, s)
	}
	for i := 0; i < len(s); i++ {
		if !allowed(s[i]) {
			return "", fmt.Errorf("%w: %q has unsupported character %q at byte %d", ErrInvalid, s, s[i], i)
		}
	}
	return ID(s), nil
}

// MustParse is Parse for tests and constants; it panics on a bad ID.
func MustParse(s string) ID {
	id, err := Parse(s)
	if err != nil {
		panic("BUG: " + err.Error())
	}
	return id
}

// String returns the ID as a string.
func (id ID) String() string { return string(id) }

func allowed(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	switch c {
	case '!', '-', '_', '.', '*', '\'', '(', ')':
		return true
	}
	return false
}
