package main

import (
	"os"
	"runtime"
	"strings"
	"syscall"

	"tenkthreads/internal/clientreport"
)

// Schema is the layout of the JSON report (client/SCHEMA.md).
const Schema = clientreport.Schema

func fillEnv(e *clientreport.Environment) {
	e.Hostname, _ = os.Hostname()
	var u syscall.Utsname
	if syscall.Uname(&u) == nil {
		e.Kernel = utsString(u.Sysname[:]) + " " + utsString(u.Release[:])
	}
	e.Cores = runtime.NumCPU()
	e.GOMAXPROCS = runtime.GOMAXPROCS(0)
	e.GoVersion = runtime.Version()
	e.Pid = os.Getpid()
}

func utsString(b []int8) string {
	var sb strings.Builder
	for _, c := range b {
		if c == 0 {
			break
		}
		sb.WriteByte(byte(c))
	}
	return sb.String()
}
