//go:build !unix

package cli

func raiseFileLimit() {}
