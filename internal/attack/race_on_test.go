//go:build race

package attack

// raceEnabled: the race detector slows the HTTP stacks of client and
// server alike; timing tests run without it (make test runs them so too).
const raceEnabled = true
