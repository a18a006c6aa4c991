//go:build !linux

package query

func onNicedThread(_ int, fn func()) { fn() }
