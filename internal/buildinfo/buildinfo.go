// Package buildinfo names the running loadgate build.
package buildinfo

import "runtime"

// Version is loadgate's version; release builds set it with
// -ldflags "-X github.com/loadgate/loadgate/internal/buildinfo.Version=...".
var Version = "0.1.0-dev"

// UserAgent is the User-Agent loadgate sends unless a scenario sets one.
func UserAgent() string { return "loadgate/" + Version }

// GoVersion is the Go release loadgate was built with.
func GoVersion() string { return runtime.Version() }
