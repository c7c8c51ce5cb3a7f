package lambda

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Credentials are AWS credentials. Inside Lambda they are the function
// role's temporary credentials, which the runtime puts in the environment.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
}

// ErrNoCredentials is returned by CredentialsFromEnv when the environment
// holds no AWS credentials.
var ErrNoCredentials = errors.New("no AWS credentials in the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)")

// CredentialsFromEnv reads AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
// AWS_SESSION_TOKEN.
func CredentialsFromEnv(getenv func(string) string) (Credentials, error) {
	c := Credentials{getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY"), getenv("AWS_SESSION_TOKEN")}
	if c.AccessKeyID == "" || c.SecretAccessKey == "" {
		return c, ErrNoCredentials
	}
	return c, nil
}

// SigV4 is an http.RoundTripper that signs each request with AWS
// Signature Version 4 before sending it: what an IAM-authenticated Lambda
// function URL (Service "lambda") requires of its callers. Give it to the
// frontend's HTTP invoker as the client's Transport. The body is read into
// memory to be hashed. It is safe for concurrent use.
type SigV4 struct {
	Base        http.RoundTripper // nil means http.DefaultTransport
	Credentials Credentials
	Region      string           // e.g. "eu-west-1"
	Service     string           // "lambda" for function URLs
	Now         func() time.Time // nil means time.Now
}

// RoundTrip signs a copy of r and sends it.
func (s *SigV4) RoundTrip(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil && r.Body != http.NoBody {
		var err error
		body, err = io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("read body to sign: %w", err)
		}
	}
	req := r.Clone(r.Context())
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	req.ContentLength = int64(len(body))
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	if err := s.sign(req, body, now().UTC()); err != nil {
		return nil, err
	}
	base := s.Base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(req)
}

const sigV4Algorithm = "AWS4-HMAC-SHA256"

// sign sets X-Amz-Date, X-Amz-Security-Token (with a session token) and
// Authorization on req. It signs host and every x-amz-* header.
func (s *SigV4) sign(req *http.Request, body []byte, now time.Time) error {
	amzDate := now.Format("20060102T150405Z")
	day := amzDate[:8]
	req.Header.Set("X-Amz-Date", amzDate)
	if s.Credentials.SessionToken != "" {
		req.Header.Set("X-Amz-Security-Token", s.Credentials.SessionToken)
	}
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	headers := map[string]string{"host": host}
	for k, vs := range req.Header {
		if lk := strings.ToLower(k); strings.HasPrefix(lk, "x-amz-") {
			for i := range vs {
				vs[i] = strings.Join(strings.Fields(vs[i]), " ")
			}
			headers[lk] = strings.Join(vs, ",")
		}
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range headers {
			if !yield(k) {
				return
			}
		}
	})
	var canonHeaders strings.Builder
	for _, k := range names {
		canonHeaders.WriteString(k + ":" + headers[k] + "\n")
	}
	signed := strings.Join(names, ";")
	query, err := canonicalQuery(req.URL.RawQuery)
	if err != nil {
		return err
	}
	payload := sha256.Sum256(body)
	canonical := strings.Join([]string{
		req.Method,
		canonicalPath(req.URL.EscapedPath()),
		query,
		canonHeaders.String(),
		signed,
		hex.EncodeToString(payload[:]),
	}, "\n")
	scope := day + "/" + s.Region + "/" + s.Service + "/aws4_request"
	hashed := sha256.Sum256([]byte(canonical))
	toSign := sigV4Algorithm + "\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(hashed[:])
	key := hmacSHA256([]byte("AWS4"+s.Credentials.SecretAccessKey), day)
	for _, part := range []string{s.Region, s.Service, "aws4_request"} {
		key = hmacSHA256(key, part)
	}
	req.Header.Set("Authorization", fmt.Sprintf("%s Credential=%s/%s, SignedHeaders=%s, Signature=%s",
		sigV4Algorithm, s.Credentials.AccessKeyID, scope, signed, hex.EncodeToString(hmacSHA256(key, toSign))))
	return nil
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// canonicalPath encodes the already-escaped path once more, as SigV4 asks
// of every service but S3.
func canonicalPath(escaped string) string {
	if escaped == "" {
		return "/"
	}
	segs := strings.Split(escaped, "/")
	for i, s := range segs {
		segs[i] = awsEscape(s)
	}
	return strings.Join(segs, "/")
}

// canonicalQuery sorts the parameters by name, then value, each encoded.
func canonicalQuery(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	v, err := url.ParseQuery(raw)
	if err != nil {
		return "", fmt.Errorf("parse query to sign: %w", err)
	}
	var pairs []string
	for k, vs := range v {
		for _, s := range vs {
			pairs = append(pairs, awsEscape(k)+"="+awsEscape(s))
		}
	}
	slices.Sort(pairs)
	return strings.Join(pairs, "&"), nil
}

// awsEscape percent-encodes everything but RFC 3986's unreserved
// characters, with uppercase hex.
func awsEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
