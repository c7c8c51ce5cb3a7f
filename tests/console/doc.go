// Package console tests the web console in a real headless Chromium
// (Debian's chromium, driven by playwright-core from console/node_modules;
// both installed by scripts/install-test-deps.sh): a kmlog binary is built
// and started, data pushed through the push API, and browser.mjs clicks
// through the console and checks what it shows. Screenshots go to
// tests/console/artifacts (or $KMLOG_CONSOLE_ARTIFACTS).
//
// TestAssetsUpToDate rebuilds the console from console/src and fails when
// the embedded console/dist differs: commit dist/ after changing the app.
package console
