// Package tests holds the kit's integration tests. They drive the real
// binaries in bin/ (build them with make first) over loopback: both echo
// servers and the client. Assertions are on behaviour only (bytes, counts,
// exit codes, messages), never on timings, so a slow machine cannot fail them.
package tests
