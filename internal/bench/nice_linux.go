package bench

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// onNicedThread runs fn on a goroutine locked to an OS thread whose nice
// value is set to nice (Linux sets priority per thread). The goroutine never
// unlocks, so the thread ends with it and no other goroutine inherits the
// priority (raising it back would need CAP_SYS_NICE).
func onNicedThread(nice int, fn func()) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), nice); err != nil {
			errc <- err
			return
		}
		fn()
		errc <- nil
	}()
	return <-errc
}
