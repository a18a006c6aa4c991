//go:build !linux

package agent

// ReleaseExecutablePages does nothing outside Linux.
func ReleaseExecutablePages() error { return nil }
