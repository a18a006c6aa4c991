package query

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// onNicedThread runs fn on a goroutine locked to a fresh OS thread whose nice
// value is nice, and waits for it. The goroutine never unlocks, so the thread
// ends with it and no other goroutine inherits its priority (lowering the
// value back would need CAP_SYS_NICE). If the priority cannot be set, fn runs
// at the thread's own. A panic of fn is raised again on the caller's
// goroutine, where net/http recovers a handler's panics.
func onNicedThread(nice int, fn func()) {
	done := make(chan any, 1)
	go func() {
		var panicked any
		defer func() { done <- panicked }()
		defer func() { panicked = recover() }()
		runtime.LockOSThread()
		_ = unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), nice)
		fn()
	}()
	if p := <-done; p != nil {
		panic(p)
	}
}
