package gateway

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

// serveFixture serves h (a key server, not the gateway) and returns its URL.
func serveFixture(t *testing.T, h http.Handler) string {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s.URL
}

func TestParseJWKS(t *testing.T) {
	k := testKeys()
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)

	edit := func(m map[string]any, kv ...string) map[string]any {
		out := map[string]any{}
		for k, v := range m {
			out[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "" {
				delete(out, kv[i])
			} else {
				out[kv[i]] = kv[i+1]
			}
		}
		return out
	}
	rsaJWK := jwkOf(t, "r", "", &k.rsa1.PublicKey)
	ecJWK := jwkOf(t, "e", "", &k.ec.PublicKey)
	otherEC := jwkOf(t, "o", "", &p384.PublicKey)

	tests := []struct {
		name string
		doc  string
		keys int    // keys parsed when err is ""
		algs algSet // algs of the first key
		err  string
	}{
		{name: "standard", doc: string(standardJWKS(t)), keys: 3, algs: algRSA},
		{name: "rsa pinned", doc: string(jwksDoc(t, edit(rsaJWK, "alg", "PS384"))), keys: 1, algs: algPS384},
		{name: "P-384", doc: string(jwksDoc(t, otherEC)), keys: 1, algs: algES384},
		{name: "padded base64", doc: string(jwksDoc(t, edit(rsaJWK, "e", "AQAB===="))), keys: 1, algs: algRSA},
		{name: "enc key skipped", doc: string(jwksDoc(t, edit(rsaJWK, "use", "enc"), ecJWK)), keys: 1, algs: algES256},
		{name: "oct skipped", doc: string(jwksDoc(t, map[string]any{"kty": "oct", "k": "c2VjcmV0"}, ecJWK)), keys: 1, algs: algES256},
		{name: "unknown curve skipped", doc: string(jwksDoc(t, edit(ecJWK, "crv", "secp256k1"), rsaJWK)), keys: 1, algs: algRSA},
		{name: "extra members ignored", doc: `{"keys":[` + mustJSON(t, edit(ecJWK, "x5t", "abc")) + `],"other":1}`, keys: 1, algs: algES256},

		{name: "not JSON", doc: "{", err: "unexpected end"},
		{name: "keys not an array", doc: `{"keys":{}}`, err: "cannot unmarshal"},
		{name: "no keys", doc: `{"keys":[]}`, err: "no RSA, EC or Ed25519"},
		{name: "only skipped keys", doc: string(jwksDoc(t, edit(rsaJWK, "use", "enc"))), err: "no RSA, EC or Ed25519"},
		{name: "small RSA", doc: string(jwksDoc(t, jwkOf(t, "s", "", &small.PublicKey))), err: "RSA modulus of 1024 bits"},
		{name: "even exponent", doc: string(jwksDoc(t, edit(rsaJWK, "e", "Ag"))), err: "RSA exponent 2"},
		{name: "huge exponent", doc: string(jwksDoc(t, edit(rsaJWK, "e", "AQAAAAAB"))), err: "RSA exponent of 6 bytes"},
		{name: "n missing", doc: string(jwksDoc(t, edit(rsaJWK, "n", ""))), err: "leading zero bytes or is empty"},
		{name: "n bad base64", doc: string(jwksDoc(t, edit(rsaJWK, "n", "!!"))), err: "decode n"},
		{name: "EC short x", doc: string(jwksDoc(t, edit(ecJWK, "x", "AAAA"))), err: "coordinates of 3 and 32 bytes"},
		{name: "EC off curve", doc: string(jwksDoc(t, edit(ecJWK, "x", ecJWK["y"].(string)))), err: "parse P-256 point"},
		{name: "alg of another key type", doc: string(jwksDoc(t, edit(ecJWK, "alg", "RS256"))), err: `alg "RS256" does not fit`},
		{name: "alg HS256 on RSA", doc: string(jwksDoc(t, edit(rsaJWK, "alg", "HS256"))), err: `alg "HS256" does not fit`},
		{name: "alg none", doc: string(jwksDoc(t, edit(rsaJWK, "alg", "none"))), err: `alg "none" does not fit`},
		{name: "Ed25519 short", doc: `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"AAAA"}]}`, err: "Ed25519 key of 3 bytes"},
		{name: "too large", doc: `{"keys":[` + strings.Repeat(" ", maxJWKSBytes) + `]}`, err: "bytes, the limit is"},
		{name: "too many keys", doc: `{"keys":[` + strings.Repeat(`{},`, maxJWKSKeys) + `{}]}`, err: "keys, the limit is"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			set, err := parseJWKS([]byte(tc.doc))
			if tc.err != "" {
				require.ErrorIs(t, err, ErrInvalidJWKS)
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.keys, set.len())
			require.Equal(t, tc.algs, set.keys[0].algs)
		})
	}
}

func mustJSON(t testing.TB, v any) string {
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

func TestKeySetFind(t *testing.T) {
	set, err := parseJWKS(standardJWKS(t))
	require.NoError(t, err)
	keys, err := set.find("rsa1", algRS256)
	require.NoError(t, err)
	require.Len(t, keys, 1)
	keys, err = set.find("", algES256)
	require.NoError(t, err)
	require.Len(t, keys, 1)
	_, err = set.find("", algES384)
	require.ErrorIs(t, err, ErrUnknownKey)
	_, err = set.find("nope", algRS256)
	require.ErrorIs(t, err, ErrUnknownKey)
	_, err = set.find("ed1", algRS256)
	require.ErrorIs(t, err, ErrAlgorithm)
}

// FuzzParseJWKS feeds arbitrary documents to the JWKS parser: it must not
// panic, and every key it accepts must be usable for the algorithms it
// claims.
func FuzzParseJWKS(f *testing.F) {
	f.Add(standardJWKS(f))
	f.Add([]byte(`{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-521","x":"","y":""}]}`))
	f.Add([]byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","alg":"EdDSA"}]}`))
	f.Add([]byte(`{"keys":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		set, err := parseJWKS(data)
		if err != nil {
			return
		}
		for _, k := range set.keys {
			if k.algs == 0 || k.algs&algHS256 != 0 {
				t.Fatalf("key %q accepted with algs %b", k.kid, k.algs)
			}
			switch key := k.key.(type) {
			case *rsa.PublicKey:
				if key.N.BitLen() < minRSABits || k.algs&^algRSA != 0 {
					t.Fatalf("bad RSA key accepted: %d bits, algs %b", key.N.BitLen(), k.algs)
				}
			case *ecdsa.PublicKey:
				if k.algs&(algES256|algES384|algES512) == 0 {
					t.Fatalf("EC key with algs %b", k.algs)
				}
			default:
				if k.algs != algEdDSA {
					t.Fatalf("%T key with algs %b", key, k.algs)
				}
			}
		}
	})
}

// FuzzVerify feeds arbitrary tokens to the authenticator: it must not
// panic, must classify every rejection, and must never accept a token it
// was not given a valid signature for.
func FuzzVerify(f *testing.F) {
	k := testKeys()
	c := claimsFor("tenant-fuzz")
	f.Add(sign(f, jwt.SigningMethodHS256, []byte(testSecret), "", c))
	f.Add(sign(f, jwt.SigningMethodRS256, k.rsa1, "rsa1", c))
	f.Add(sign(f, jwt.SigningMethodES256, k.ec, "ec1", c))
	f.Add(sign(f, jwt.SigningMethodEdDSA, k.ed, "ed1", c))
	f.Add(sign(f, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", c))
	f.Add("eyJhbGciOiJSUzI1NiIsImtpZCI6WzFdfQ.e30.AA")
	f.Add("..")
	f.Add("")
	a, err := NewAuthenticator(testAuthConfig(f), nil, discardLogger())
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, tok string) {
		id, err := a.Verify(t.Context(), tok)
		if err == nil {
			// Only the seeds are validly signed; a mutation that still
			// verifies must decode to the same claims (base64 slack).
			if id != "tenant-fuzz" {
				t.Fatalf("accepted %q with tenant %q", tok, id)
			}
			return
		}
		if !errorsIsAny(err, ErrInvalidToken, ErrUnknownKey, ErrAlgorithm, ErrNoTenant, ErrKeysUnavailable) {
			t.Fatalf("unclassified error %v", err)
		}
		if status, _, _ := classifyAuthError(err); status != http.StatusUnauthorized && status != http.StatusForbidden {
			t.Fatalf("status %d for %v", status, err)
		}
	})
}
