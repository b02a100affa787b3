//go:build !unix

package cli

func raiseFileLimit() uint64 { return 0 }
