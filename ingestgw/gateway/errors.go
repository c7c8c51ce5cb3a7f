package gateway

import "errors"

// Sentinel errors. Authentication errors returned by Authenticator wrap
// exactly one of ErrNoCredentials, ErrInvalidToken, ErrUnknownKey,
// ErrAlgorithm, ErrNoTenant or ErrKeysUnavailable; when the token library
// rejected the token, its own error (jwt.ErrTokenExpired, …) is wrapped too.
var (
	// ErrInvalidConfig is wrapped by every error from Config.Validate.
	ErrInvalidConfig = errors.New("invalid gateway config")

	// ErrNoCredentials means the request carried no bearer token.
	ErrNoCredentials = errors.New("no bearer token")
	// ErrInvalidToken means the token failed verification: malformed, badly
	// signed, expired, not yet valid, or the wrong issuer or audience.
	ErrInvalidToken = errors.New("invalid token")
	// ErrUnknownKey means the token names a key ID that no key set holds.
	ErrUnknownKey = errors.New("unknown signing key")
	// ErrAlgorithm means the token's algorithm is not allowed for its key.
	ErrAlgorithm = errors.New("signing algorithm not allowed")
	// ErrNoTenant means a valid token carries no valid tenant claim.
	ErrNoTenant = errors.New("token has no valid tenant claim")
	// ErrKeysUnavailable means the JWKS URL could not be fetched and no
	// earlier copy of its keys is cached.
	ErrKeysUnavailable = errors.New("signing keys unavailable")

	// ErrInvalidJWKS is wrapped by errors from parsing a JWKS document.
	ErrInvalidJWKS = errors.New("invalid JWKS")

	// ErrNoOrgID means a request reached a handler without X-Scope-OrgID.
	// The text is Loki's.
	ErrNoOrgID = errors.New("no org id")
	// ErrMultipleOrgIDs means X-Scope-OrgID names several tenants ("a|b"),
	// which kmlog does not support. The text is Loki's.
	ErrMultipleOrgIDs = errors.New("multiple org IDs present")
)
