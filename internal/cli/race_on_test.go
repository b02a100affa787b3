//go:build race

package cli

// raceEnabled: the race detector slows the in-process HTTP stack of client
// and server alike, which timing tests allow for.
const raceEnabled = true
