// Package testkit holds the helpers the kit's tests share: the client's
// unit tests, the integration suite in tests/ and the runner's tests.
// It is ordinary Go code taking a testing.TB, so any _test.go file can
// import it and no program does.
//
// Every wait in it is bounded and every failure says what was awaited; a
// helper that cannot do its job fails the test, it never skips it.
package testkit
