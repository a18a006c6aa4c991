//go:build !linux

package agent

// ReleaseExecutablePages does nothing outside Linux.
func ReleaseExecutablePages() (int, error) { return 0, nil }
