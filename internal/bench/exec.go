package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"time"
)

// runExec runs a command Warmup+Runs times, like hyperfine, and reports the
// wall, user and system time of the measured runs.
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
		start := time.Now()
		err = cmd.Run()
		wall = time.Since(start)
		if cmd.ProcessState != nil {
			user, sys = cmd.ProcessState.UserTime(), cmd.ProcessState.SystemTime()
		}
		return wall, user, sys, err
	}
	total := c.Warmup + c.Runs
	for i := range c.Warmup {
		if _, _, _, err := once(); err != nil && !isExit(err) {
			return Result{}, fmt.Errorf("run %q: %w", argv[0], err)
		}
		report(progress, i+1, total)
	}
	var walls, users, syss []float64
	failed := 0
	var measured time.Duration
	for i := range c.Runs {
		wall, user, sys, err := once()
		if err != nil {
			if !isExit(err) || ctx.Err() != nil {
				return Result{}, fmt.Errorf("run %q: %w", argv[0], err)
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
	return res, nil
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
