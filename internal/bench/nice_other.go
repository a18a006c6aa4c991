//go:build !linux

package bench

// onNicedThread runs fn where the OS has no per-thread nice value.
func onNicedThread(_ int, fn func()) error {
	fn()
	return nil
}
