// Package gateway is the front door of kmlog's long-lived tier: it terminates
// TLS (HTTP/2 with ALPN, or cleartext HTTP/1.1 and prior-knowledge h2c),
// turns the caller's JWT into a tenant, sets X-Scope-OrgID itself and routes
// the Loki push API to the distributor and the query API to the query
// frontend. Both are plain http.Handlers passed in through Routes.
//
// # Tenancy
//
// With auth enabled, every request on a push or query route must carry
// "Authorization: Bearer <jwt>" (or HTTP basic auth whose password is the
// JWT, for clients that can only send basic auth). The token is verified
// (signature, algorithm allowed for the key, exp and nbf with leeway, issuer
// and audience when configured) and the tenant is read from the configured
// claim. Any X-Scope-OrgID the client sent is deleted and replaced by the
// token's tenant, and the Authorization header is removed, so handlers
// below the gateway never see credentials and a client can never choose its
// own tenant.
//
// With auth disabled, the client's X-Scope-OrgID is used as is (this is the
// mode for a gateway behind a trusted proxy, and for development); a missing
// header means tenant.Fake, as in Loki's single-tenant mode. Unlike Loki with
// auth_enabled: false, which ignores the header, the header is honoured here.
//
// Handlers below the gateway call TenantFrom once and pass the tenant on as
// an explicit tenant.ID parameter.
//
// # Status codes
//
//   - 401 with "WWW-Authenticate: Bearer": no token, a malformed or badly
//     signed token, an algorithm the key does not allow (alg "none", HS256
//     with an RSA key), an unknown key ID, expired or not yet valid, wrong
//     issuer or audience.
//   - 403: a valid token whose tenant claim is missing or is not a valid
//     tenant ID. The caller proved who it is, but the identity maps to no
//     tenant; retrying with the same token cannot succeed and the fix is on
//     the token issuer's side, which 403 says more clearly than 401.
//   - 503: the JWKS URL could not be fetched and no earlier copy is cached.
//     This is the gateway's problem, not the client's, so agents retry.
//   - 400: with auth disabled, an X-Scope-OrgID that is not a valid tenant,
//     or that names several tenants ("a|b") on a push or tail ("multiple
//     org IDs present", Loki's text). On queries several tenants pass
//     through: the query frontend runs a multi-tenant query where every
//     tenant named has multi_tenant_queries_enabled. With auth on, the
//     tenant comes only from the credential.
//   - 413: a body over max_request_body_bytes, known from Content-Length.
//     Bodies of unknown length are wrapped in http.MaxBytesReader, so a
//     handler reading past the limit gets an *http.MaxBytesError and should
//     answer 413 itself.
//
// Bodies are short plain text, as in Loki. /ready and /metrics are served
// without authentication.
//
// # Routes
//
// Push paths (/loki/api/v1/push, /api/prom/push) go to Routes.Push; every
// other path goes to Routes.Query — the query frontend in process, or
// Forward to a frontend elsewhere — so that APIs the frontend gains (rules,
// delete, the console) need no change here. Both are authenticated the
// same way and share the body limit and the server's timeouts. Without a
// handler a route answers 404.
//
// With Routes.ForwardCredentials the verified Authorization header stays on
// query requests, so that a frontend running elsewhere verifies the token
// itself and takes the tenant from it, never from a header anyone inside
// the network could set. That is kmlog's one tenant rule: with auth on, a
// tenant comes only from a verified credential, in every deployment.
//
// # Keys
//
// HS256 uses a shared secret (at least 32 bytes). RS256/384/512,
// PS256/384/512, ES256/384/512 and EdDSA use public keys from a JWKS
// document, read from a file or fetched from a URL. Remote keys are cached by
// kid and refetched every jwks_refresh; a token naming an unknown kid
// triggers an early refetch (at most one per jwks_refresh, and at least every
// ten seconds), which is how a rotated key becomes usable. If a refetch fails
// the previous keys stay in use. A JWK's "alg", when present, is the only
// algorithm it verifies; otherwise its key type decides (RSA: RS* and PS*,
// EC: the ES algorithm of its curve, OKP Ed25519: EdDSA). The shared secret
// only ever verifies HS256, so a token cannot make the gateway use a public
// key as an HMAC secret.
//
// Agents send the same token with every push, so verified tokens are
// remembered (by SHA-256) until they expire or for one minute, whichever
// comes first; a key removed from the JWKS therefore stops working within a
// minute for tokens already seen. Only successes are cached.
package gateway
