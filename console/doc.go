// Package console serves kmlog's web console: a Vue 3 single-page app
// whose built assets (dist/, produced by `npm ci && npm run build` from
// the sources in src/) are embedded in the binary, so running kmlog needs
// no Node.js.
//
// Routes (mounted by cmd/kmlog in front of the gateway):
//
//	GET /                       the app (index.html)
//	GET /console/               the app as well
//	GET /console/assets/...     hashed JS and CSS, cached for a year
//	GET /console/config.json    settings from kmlog's config (Config)
//
// The app talks to the Loki API of the same origin. It never sends
// X-Scope-OrgID: without gateway auth the gateway uses tenant "fake"; with
// auth on, the app sends the bearer token the user pasted into its token
// dialog (kept in the browser's sessionStorage, so it is gone when the tab
// closes), and the gateway maps it to the tenant.
package console
