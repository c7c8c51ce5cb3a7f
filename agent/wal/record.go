package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/kubemate/kmlog/format/push"
)

// MaxRecordSize bounds one record (one Append).
const MaxRecordSize = 64 << 20

const (
	headerLen       = 8
	recordHeaderLen = 8
	version         = 1
)

var magic = [6]byte{'K', 'M', 'L', 'W', 'A', 'L'}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrCorrupt is wrapped by errors about bytes that are not a valid segment.
var ErrCorrupt = errors.New("corrupt wal segment")

func appendHeader(b []byte) []byte {
	b = append(b, magic[:]...)
	return binary.LittleEndian.AppendUint16(b, version)
}

func checkHeader(b []byte) error {
	if len(b) < headerLen {
		return fmt.Errorf("%w: short header", ErrCorrupt)
	}
	if [6]byte(b[:6]) != magic {
		return fmt.Errorf("%w: bad magic", ErrCorrupt)
	}
	if v := binary.LittleEndian.Uint16(b[6:]); v != version {
		return fmt.Errorf("%w: version %d", ErrCorrupt, v)
	}
	return nil
}

// appendRecord appends the framed record of one Append to b.
func appendRecord(b []byte, tenant string, entries int, req *push.Request) []byte {
	start := len(b)
	b = append(b, make([]byte, recordHeaderLen)...)
	b = protowire.AppendVarint(b, uint64(len(tenant)))
	b = append(b, tenant...)
	b = protowire.AppendVarint(b, uint64(entries))
	b = push.AppendProto(b, req)
	body := b[start+recordHeaderLen:]
	binary.LittleEndian.PutUint32(b[start:], uint32(len(body)))
	binary.LittleEndian.PutUint32(b[start+4:], crc32.Checksum(body, castagnoli))
	return b
}

// recordLen reads a record header: the body length. It fails on a length
// above MaxRecordSize.
func recordLen(h []byte) (int, error) {
	n := binary.LittleEndian.Uint32(h)
	if n > MaxRecordSize {
		return 0, fmt.Errorf("%w: record of %d bytes", ErrCorrupt, n)
	}
	return int(n), nil
}

// nextRecord splits the first record off b. It returns the body and the
// record's total length; a short or damaged record is an error wrapping
// ErrCorrupt.
func nextRecord(b []byte) (body []byte, n int, err error) {
	if len(b) < recordHeaderLen {
		return nil, 0, fmt.Errorf("%w: short record header", ErrCorrupt)
	}
	l, err := recordLen(b)
	if err != nil {
		return nil, 0, err
	}
	if len(b)-recordHeaderLen < l {
		return nil, 0, fmt.Errorf("%w: short record", ErrCorrupt)
	}
	body = b[recordHeaderLen : recordHeaderLen+l]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(b[4:]) {
		return nil, 0, fmt.Errorf("%w: crc mismatch", ErrCorrupt)
	}
	return body, recordHeaderLen + l, nil
}

// parseBody splits a record body into its tenant, entry count and
// protobuf payload.
func parseBody(body []byte) (tenant string, entries int, payload []byte, err error) {
	tl, n := protowire.ConsumeVarint(body)
	if n < 0 || tl > uint64(len(body)-n) {
		return "", 0, nil, fmt.Errorf("%w: bad tenant length", ErrCorrupt)
	}
	body = body[n:]
	tenant, body = string(body[:tl]), body[tl:]
	ec, n := protowire.ConsumeVarint(body)
	if n < 0 || ec > MaxRecordSize {
		return "", 0, nil, fmt.Errorf("%w: bad entry count", ErrCorrupt)
	}
	return tenant, int(ec), body[n:], nil
}

// decodeBody decodes a record body fully.
func decodeBody(body []byte) (tenant string, entries int, req *push.Request, err error) {
	tenant, entries, payload, err := parseBody(body)
	if err != nil {
		return "", 0, nil, err
	}
	req, err = push.DecodeProto(payload)
	if err != nil {
		return "", 0, nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return tenant, entries, req, nil
}
