package push

import (
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"strings"
	"sync"
	"unsafe"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
)

// Content types of the push API.
const (
	ContentTypeProto = "application/x-protobuf"
	ContentTypeJSON  = "application/json"
)

// defaultMaxBytes replaces a maxBytes <= 0; it is Loki's own ceiling.
const defaultMaxBytes = math.MaxInt32

// maxPooled is the largest buffer kept in a pool for reuse.
const maxPooled = 8 << 20

// maxSnappyRatio bounds how much a snappy block may claim to expand. Snappy
// cannot exceed about 21 (a 3-byte copy yields at most 64 bytes); a larger
// declared length is a lie that would make us allocate for nothing.
const maxSnappyRatio = 32

// Pools of reusable buffers and decompressors: their state is reset on
// every use, so sharing them across requests is invisible to callers.
var (
	bodyPool  = sync.Pool{New: func() any { return new([]byte) }}
	gzipPool  sync.Pool // *gzip.Reader
	flatePool sync.Pool // io.ReadCloser implementing flate.Resetter
)

// DecodeRequest reads a push body from r and decodes it according to the
// request's Content-Type and Content-Encoding headers (see doc.go).
// maxBytes caps every decompressed stage of the body; beyond it the error
// wraps ErrTooLarge. An unknown Content-Encoding wraps
// ErrUnsupportedEncoding; an undecodable body is a *DecodeError. A
// maxBytes <= 0 means 2 GiB, Loki's own ceiling.
func DecodeRequest(r io.Reader, contentType, contentEncoding string, maxBytes int64) (*Request, error) {
	if maxBytes <= 0 || maxBytes > defaultMaxBytes {
		maxBytes = defaultMaxBytes
	}
	isJSON, err := isJSONContentType(contentType)
	if err != nil {
		return nil, err
	}
	bp := bodyPool.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= maxPooled {
			*bp = (*bp)[:0]
			bodyPool.Put(bp)
		}
	}()
	body, err := readBody(r, contentEncoding, maxBytes, (*bp)[:0])
	*bp = body
	if err != nil {
		return nil, err
	}
	if isJSON {
		return DecodeJSON(body)
	}
	raw, err := decodeSnappy(body, maxBytes)
	if err != nil {
		return nil, err
	}
	// raw is ours alone and never written again, so its strings may alias it.
	return decodeProto(raw, unsafe.String(unsafe.SliceData(raw), len(raw)))
}

// isJSONContentType reports whether contentType selects JSON. Like Loki,
// anything else (an empty header included) means protobuf.
func isJSONContentType(contentType string) (bool, error) {
	if contentType == "" {
		return false, nil
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false, &DecodeError{Format: "content-type", Offset: -1, Msg: fmt.Sprintf("parse Content-Type %q", contentType), Err: err}
	}
	return mt == ContentTypeJSON, nil
}

// readBody reads r, undoing contentEncoding, into buf, failing with
// ErrTooLarge once more than maxBytes come out.
func readBody(r io.Reader, contentEncoding string, maxBytes int64, buf []byte) ([]byte, error) {
	enc := strings.ToLower(strings.TrimSpace(contentEncoding))
	switch enc {
	case "", "identity", "snappy":
		return readAll(r, maxBytes, buf, "body")
	case "gzip", "x-gzip":
		zr, _ := gzipPool.Get().(*gzip.Reader)
		var err error
		if zr == nil {
			zr, err = gzip.NewReader(r)
		} else {
			err = zr.Reset(r)
		}
		if err != nil {
			return buf, &DecodeError{Format: "gzip", Offset: -1, Msg: "read gzip header", Err: err}
		}
		defer gzipPool.Put(zr)
		return readCompressed(zr, maxBytes, buf, "gzip")
	case "deflate":
		fr, _ := flatePool.Get().(io.ReadCloser)
		if fr == nil {
			fr = flate.NewReader(r)
		} else if err := fr.(flate.Resetter).Reset(r, nil); err != nil {
			return buf, &DecodeError{Format: "deflate", Offset: -1, Msg: "reset reader", Err: err}
		}
		defer flatePool.Put(fr)
		return readCompressed(fr, maxBytes, buf, "deflate")
	default:
		return buf, fmt.Errorf("%w: Content-Encoding %q", ErrUnsupportedEncoding, contentEncoding)
	}
}

func readCompressed(r io.Reader, maxBytes int64, buf []byte, format string) ([]byte, error) {
	buf, err := readAll(r, maxBytes, buf, format+" output")
	if err != nil && !errors.Is(err, ErrTooLarge) {
		return buf, &DecodeError{Format: format, Offset: -1, Msg: "decompress body", Err: err}
	}
	return buf, err
}

// readAll appends all of r to buf, reading at most maxBytes+1 bytes.
func readAll(r io.Reader, maxBytes int64, buf []byte, what string) ([]byte, error) {
	for {
		if int64(len(buf)) > maxBytes {
			return buf, fmt.Errorf("read %s: %w: more than %d bytes", what, ErrTooLarge, maxBytes)
		}
		if len(buf) == cap(buf) {
			// Grow by doubling, but not past the cap (plus one byte to
			// detect an overflow).
			n := max(2*cap(buf), 32<<10)
			n = int(min(int64(n), maxBytes+1))
			if n <= len(buf) {
				n = len(buf) + 1
			}
			nb := make([]byte, len(buf), n)
			copy(nb, buf)
			buf = nb
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			if int64(len(buf)) > maxBytes {
				return buf, fmt.Errorf("read %s: %w: more than %d bytes", what, ErrTooLarge, maxBytes)
			}
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// decodeSnappy decodes a snappy block into a new buffer after checking its
// declared length against maxBytes and against snappy's expansion limit.
func decodeSnappy(src []byte, maxBytes int64) ([]byte, error) {
	n, err := s2.DecodedLen(src)
	if err != nil {
		return nil, &DecodeError{Format: "snappy", Offset: 0, Msg: "read block length", Err: err}
	}
	if int64(n) > maxBytes {
		return nil, fmt.Errorf("decode snappy block: %w: declares %d bytes, limit %d", ErrTooLarge, n, maxBytes)
	}
	if n > maxSnappyRatio*len(src)+64 {
		return nil, &DecodeError{Format: "snappy", Offset: 0, Msg: fmt.Sprintf("block of %d bytes declares an impossible %d decoded bytes", len(src), n)}
	}
	out, err := s2.Decode(make([]byte, n), src)
	if err != nil {
		return nil, &DecodeError{Format: "snappy", Offset: -1, Msg: "decode block", Err: err}
	}
	return out, nil
}

// DecodeSnappyProto decodes a snappy-compressed protobuf body, as sent with
// Content-Type application/x-protobuf and no Content-Encoding, enforcing
// maxBytes on the decompressed size.
func DecodeSnappyProto(b []byte, maxBytes int64) (*Request, error) {
	if maxBytes <= 0 || maxBytes > defaultMaxBytes {
		maxBytes = defaultMaxBytes
	}
	raw, err := decodeSnappy(b, maxBytes)
	if err != nil {
		return nil, err
	}
	return decodeProto(raw, unsafe.String(unsafe.SliceData(raw), len(raw)))
}
