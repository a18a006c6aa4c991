package query

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// onNicedThread runs fn on a goroutine locked to a fresh OS thread whose nice
// value is nice, and waits for it. The goroutine never unlocks, so the thread
// ends with it and no other goroutine inherits its priority.
func onNicedThread(nice int, fn func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		_ = unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), nice)
		fn()
	}()
	<-done
}
