package gateway

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// Bounds on JWKS documents, so a hostile or broken key server cannot make
// the gateway allocate or compute without limit.
const (
	maxJWKSBytes   = 1 << 20
	maxJWKSKeys    = 256
	minRSABits     = 2048
	maxRSABits     = 8192
	maxRSAExponent = 1<<31 - 1
)

// algSet is a bit set of the JWS algorithms the gateway knows.
type algSet uint16

const (
	algHS256 algSet = 1 << iota
	algRS256
	algRS384
	algRS512
	algPS256
	algPS384
	algPS512
	algES256
	algES384
	algES512
	algEdDSA

	algRSA = algRS256 | algRS384 | algRS512 | algPS256 | algPS384 | algPS512
)

var algNames = map[string]algSet{
	"HS256": algHS256,
	"RS256": algRS256, "RS384": algRS384, "RS512": algRS512,
	"PS256": algPS256, "PS384": algPS384, "PS512": algPS512,
	"ES256": algES256, "ES384": algES384, "ES512": algES512,
	"EdDSA": algEdDSA,
}

// jwk is one verification key and the algorithms it may verify.
type jwk struct {
	kid  string
	algs algSet
	key  any // *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey
}

// keySet is an immutable set of verification keys.
type keySet struct {
	keys []jwk
}

// find returns the keys that may verify a token with the given kid and alg:
// the keys with that kid, or every key when kid is empty. It returns
// ErrUnknownKey when no key has the kid, and ErrAlgorithm when some do but
// none of them allows alg.
func (s *keySet) find(kid string, alg algSet) ([]jwt.VerificationKey, error) {
	var out []jwt.VerificationKey
	seen := false
	for i := range s.keys {
		k := &s.keys[i]
		if kid != "" && k.kid != kid {
			continue
		}
		seen = true
		if k.algs&alg != 0 {
			out = append(out, k.key)
		}
	}
	switch {
	case len(out) > 0:
		return out, nil
	case kid == "":
		return nil, fmt.Errorf("%w: token has no kid and no key allows its algorithm", ErrUnknownKey)
	case !seen:
		return nil, fmt.Errorf("%w: kid %q", ErrUnknownKey, kid)
	}
	return nil, fmt.Errorf("%w: kid %q does not allow this algorithm", ErrAlgorithm, kid)
}

func (s *keySet) len() int {
	if s == nil {
		return 0
	}
	return len(s.keys)
}

// rawJWK is the JSON form of a key; fields the gateway does not use are
// ignored.
type rawJWK struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	N   string `json:"n"`
	E   string `json:"e"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// parseJWKS parses a JWKS document. Keys meant for encryption ("use":
// "enc") and key types the gateway does not verify with ("oct", unknown
// kty or crv) are skipped; a key of a supported type with bad parameters is
// an error, as is a document with no usable key.
func parseJWKS(data []byte) (*keySet, error) {
	if len(data) > maxJWKSBytes {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d", ErrInvalidJWKS, len(data), maxJWKSBytes)
	}
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidJWKS, err)
	}
	if len(doc.Keys) > maxJWKSKeys {
		return nil, fmt.Errorf("%w: %d keys, the limit is %d", ErrInvalidJWKS, len(doc.Keys), maxJWKSKeys)
	}
	set := &keySet{}
	for i, raw := range doc.Keys {
		var r rawJWK
		if err := json.Unmarshal(raw, &r); err != nil {
			return nil, fmt.Errorf("%w: key %d: %v", ErrInvalidJWKS, i, err)
		}
		k, ok, err := parseJWK(r)
		if err != nil {
			return nil, fmt.Errorf("%w: key %d (kid %q): %v", ErrInvalidJWKS, i, r.Kid, err)
		}
		if ok {
			set.keys = append(set.keys, k)
		}
	}
	if len(set.keys) == 0 {
		return nil, fmt.Errorf("%w: no RSA, EC or Ed25519 signing key", ErrInvalidJWKS)
	}
	return set, nil
}

// parseJWK converts one key. ok is false for keys that are skipped.
func parseJWK(r rawJWK) (k jwk, ok bool, err error) {
	if r.Use != "" && r.Use != "sig" {
		return jwk{}, false, nil
	}
	k.kid = r.Kid
	var typeAlgs algSet
	switch r.Kty {
	case "RSA":
		k.key, err = parseRSA(r)
		typeAlgs = algRSA
	case "EC":
		var curve elliptic.Curve
		switch r.Crv {
		case "P-256":
			curve, typeAlgs = elliptic.P256(), algES256
		case "P-384":
			curve, typeAlgs = elliptic.P384(), algES384
		case "P-521":
			curve, typeAlgs = elliptic.P521(), algES512
		default:
			return jwk{}, false, nil
		}
		k.key, err = parseEC(curve, r)
	case "OKP":
		if r.Crv != "Ed25519" {
			return jwk{}, false, nil
		}
		k.key, err = parseEd25519(r)
		typeAlgs = algEdDSA
	default:
		return jwk{}, false, nil
	}
	if err != nil {
		return jwk{}, false, err
	}
	k.algs = typeAlgs
	if r.Alg != "" {
		a, known := algNames[r.Alg]
		if !known || a&typeAlgs == 0 {
			return jwk{}, false, fmt.Errorf("alg %q does not fit kty %q", r.Alg, r.Kty)
		}
		k.algs = a
	}
	return k, true, nil
}

func parseRSA(r rawJWK) (*rsa.PublicKey, error) {
	n, err := decodeB64("n", r.N)
	if err != nil {
		return nil, err
	}
	e, err := decodeB64("e", r.E)
	if err != nil {
		return nil, err
	}
	if len(n) == 0 || n[0] == 0 {
		return nil, fmt.Errorf("n has leading zero bytes or is empty")
	}
	bits := (len(n)-1)*8 + bitLen(n[0])
	if bits < minRSABits || bits > maxRSABits {
		return nil, fmt.Errorf("RSA modulus of %d bits, want %d to %d", bits, minRSABits, maxRSABits)
	}
	if len(e) == 0 || len(e) > 4 {
		return nil, fmt.Errorf("RSA exponent of %d bytes", len(e))
	}
	var exp uint64
	for _, b := range e {
		exp = exp<<8 | uint64(b)
	}
	if exp < 3 || exp%2 == 0 || exp > maxRSAExponent {
		return nil, fmt.Errorf("RSA exponent %d, want an odd number from 3 to %d", exp, maxRSAExponent)
	}
	return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(exp)}, nil
}

func bitLen(b byte) int {
	n := 0
	for ; b != 0; b >>= 1 {
		n++
	}
	return n
}

func parseEC(curve elliptic.Curve, r rawJWK) (*ecdsa.PublicKey, error) {
	size := (curve.Params().BitSize + 7) / 8
	x, err := decodeB64("x", r.X)
	if err != nil {
		return nil, err
	}
	y, err := decodeB64("y", r.Y)
	if err != nil {
		return nil, err
	}
	// RFC 7518 §6.2.1.2: coordinates are exactly the curve's byte size.
	if len(x) != size || len(y) != size {
		return nil, fmt.Errorf("%s coordinates of %d and %d bytes, want %d", r.Crv, len(x), len(y), size)
	}
	point := make([]byte, 0, 1+2*size)
	point = append(point, 4) // uncompressed
	point = append(point, x...)
	point = append(point, y...)
	pub, err := ecdsa.ParseUncompressedPublicKey(curve, point)
	if err != nil {
		return nil, fmt.Errorf("parse %s point: %w", r.Crv, err)
	}
	return pub, nil
}

func parseEd25519(r rawJWK) (ed25519.PublicKey, error) {
	x, err := decodeB64("x", r.X)
	if err != nil {
		return nil, err
	}
	if len(x) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("Ed25519 key of %d bytes, want %d", len(x), ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(x), nil
}

// decodeB64 decodes base64url without padding, tolerating padding that some
// key servers add anyway.
func decodeB64(field, s string) ([]byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", field, err)
	}
	return b, nil
}
