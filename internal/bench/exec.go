package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// stderrTail is how much of a failed command's standard error its run's
// error quotes (the end: where a failing program says why).
const stderrTail = 512

// runExec runs a command Warmup+Runs times, like hyperfine, and reports the
// wall, user and system time of the measured runs. A command that exits
// non-zero or times out, in a warmup or a measured run, fails the run (as
// hyperfine does) unless c.IgnoreFailure: the result is returned with the
// error, which names the exit status and the end of the command's standard
// error. A command that cannot start fails the run at once.
func runExec(ctx context.Context, name string, c *ExecConfig, progress func(float64)) (Result, error) {
	argv := c.Command
	if c.Shell != "" {
		argv = []string{"sh", "-c", c.Shell}
	}
	env := os.Environ()
	for k, v := range c.Env {
		env = append(env, k+"="+v)
	}
	once := func() (wall, user, sys time.Duration, err error) {
		runCtx := ctx
		if c.Timeout > 0 {
			var cancel context.CancelFunc
			runCtx, cancel = context.WithTimeout(ctx, time.Duration(c.Timeout))
			defer cancel()
		}
		cmd := exec.CommandContext(runCtx, argv[0], argv[1:]...)
		cmd.Dir = c.Dir
		cmd.Env = env
		var stderr tailWriter
		cmd.Stderr = &stderr
		start := time.Now()
		err = cmd.Run()
		wall = time.Since(start)
		if cmd.ProcessState != nil {
			user, sys = cmd.ProcessState.UserTime(), cmd.ProcessState.SystemTime()
		}
		if isExit(err) {
			why := err.Error()
			if runCtx.Err() != nil && ctx.Err() == nil {
				why = fmt.Sprintf("timed out after %s (%s)", time.Duration(c.Timeout), why)
			}
			if s := strings.TrimSpace(string(stderr.b)); s != "" {
				why += ", stderr: " + s
			}
			err = &exitError{why: why, err: err}
		}
		return wall, user, sys, err
	}
	// exits counts the runs (warmups too) that exited non-zero; first is
	// the first of them.
	var exits int
	var first string
	exited := func(err error, what string) error {
		var ee *exitError
		if !errors.As(err, &ee) || ctx.Err() != nil {
			return fmt.Errorf("run %q: %w", argv[0], err)
		}
		exits++
		if first == "" {
			first = what + ": " + ee.why
		}
		return nil
	}
	total := c.Warmup + c.Runs
	for i := range c.Warmup {
		if _, _, _, err := once(); err != nil {
			if err := exited(err, fmt.Sprintf("warmup run %d", i+1)); err != nil {
				return Result{}, err
			}
		}
		report(progress, i+1, total)
	}
	var walls, users, syss []float64
	failed := 0
	var measured time.Duration
	for i := range c.Runs {
		wall, user, sys, err := once()
		if err != nil {
			if err := exited(err, fmt.Sprintf("run %d", i+1)); err != nil {
				return Result{}, err
			}
			failed++
		}
		measured += wall
		walls = append(walls, wall.Seconds())
		users = append(users, user.Seconds())
		syss = append(syss, sys.Seconds())
		report(progress, c.Warmup+i+1, total)
	}
	res := Result{
		Name:            name,
		Unit:            "s",
		Better:          LowerIsBetter,
		Samples:         walls,
		Summary:         Summarize(walls),
		Requests:        int64(c.Runs),
		Errors:          int64(failed),
		DurationSeconds: measured.Seconds(),
		Exec: &ExecFigures{
			Runs: c.Runs, Failed: failed,
			Wall: Describe(walls), User: Describe(users), System: Describe(syss),
		},
	}
	if measured > 0 {
		res.Throughput = float64(c.Runs) / measured.Seconds()
	}
	if exits > 0 && !c.IgnoreFailure {
		of := ""
		if c.Warmup > 0 {
			of = fmt.Sprintf(" (%d warmup, %d measured)", c.Warmup, c.Runs)
		}
		return res, fmt.Errorf("%q failed in %d of %d runs%s; first in %s", argv[0], exits, total, of, first)
	}
	return res, nil
}

// exitError is a run of the command that exited non-zero or was killed
// at its timeout: why says how, with the end of its standard error.
type exitError struct {
	why string
	err error
}

func (e *exitError) Error() string { return e.why }
func (e *exitError) Unwrap() error { return e.err }

// tailWriter keeps the last stderrTail bytes written to it.
type tailWriter struct{ b []byte }

func (w *tailWriter) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) >= stderrTail {
		w.b = append(w.b[:0], p[len(p)-stderrTail:]...)
		return n, nil
	}
	if over := len(w.b) + len(p) - stderrTail; over > 0 {
		w.b = append(w.b[:0], w.b[over:]...)
	}
	w.b = append(w.b, p...)
	return n, nil
}

func isExit(err error) bool {
	var ee *exec.ExitError
	return errors.As(err, &ee)
}

func report(progress func(float64), done, total int) {
	if progress != nil && total > 0 {
		progress(float64(done) / float64(total))
	}
}
