package gateway

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/kubemate/kmlog/format/tenant"
)

// OrgIDHeader carries the tenant from the gateway to the handlers behind it.
const OrgIDHeader = "X-Scope-OrgID"

// orgIDKey is OrgIDHeader in canonical form, for direct map access on the
// hot path (Header.Get and Set canonicalize, which allocates for this name).
const orgIDKey = "X-Scope-Orgid"

// TenantFrom returns the tenant the gateway set on r. Handlers behind the
// gateway call it once and pass the tenant on as a parameter. It returns
// ErrNoOrgID when the header is missing, ErrMultipleOrgIDs for "a|b", and an
// error wrapping tenant.ErrInvalid for anything else that is not a tenant.
func TenantFrom(r *http.Request) (tenant.ID, error) {
	v := headerValue(r.Header, orgIDKey)
	if v == "" {
		return "", ErrNoOrgID
	}
	return parseOrgID(v)
}

func parseOrgID(v string) (tenant.ID, error) {
	if strings.IndexByte(v, '|') >= 0 {
		return "", ErrMultipleOrgIDs
	}
	id, err := tenant.Parse(v)
	if err != nil {
		return "", fmt.Errorf("parse %s: %w", OrgIDHeader, err)
	}
	return id, nil
}

func headerValue(h http.Header, canonicalKey string) string {
	if v := h[canonicalKey]; len(v) > 0 {
		return v[0]
	}
	return ""
}
