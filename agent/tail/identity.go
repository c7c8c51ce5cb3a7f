package tail

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Identity names a file independently of its path: its device and inode.
// The zero Identity means unknown (a position read from a Promtail file, or
// a platform without inodes).
type Identity struct {
	Dev uint64
	Ino uint64
}

// IsZero reports whether id is unknown.
func (id Identity) IsZero() bool { return id == Identity{} }

// String returns "dev:ino", the form kept in the positions file.
func (id Identity) String() string {
	return strconv.FormatUint(id.Dev, 10) + ":" + strconv.FormatUint(id.Ino, 10)
}

// ParseIdentity parses the "dev:ino" form of String.
func ParseIdentity(s string) (Identity, error) {
	d, i, ok := strings.Cut(s, ":")
	if !ok {
		return Identity{}, fmt.Errorf("parse identity %q: want dev:ino", s)
	}
	dev, err := strconv.ParseUint(d, 10, 64)
	if err != nil {
		return Identity{}, fmt.Errorf("parse identity %q: %w", s, err)
	}
	ino, err := strconv.ParseUint(i, 10, 64)
	if err != nil {
		return Identity{}, fmt.Errorf("parse identity %q: %w", s, err)
	}
	return Identity{Dev: dev, Ino: ino}, nil
}

// IdentityOf returns the identity of the file fi describes.
func IdentityOf(fi os.FileInfo) Identity { return identityOf(fi) }
