package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"time"

	"golang.org/x/perf/benchfmt"
)

// runGoBench runs `go test -bench` (or reads its saved output) and returns
// one Result per benchmark line name; sec/op is the compared metric.
func runGoBench(ctx context.Context, name string, c *GoBenchConfig, progress func(float64)) ([]Result, error) {
	var out []byte
	var src string
	if c.File != "" {
		data, err := os.ReadFile(c.File)
		if err != nil {
			return nil, fmt.Errorf("read go bench output: %w", err)
		}
		out, src = data, c.File
	} else {
		runCtx, cancel := context.WithTimeout(ctx, time.Duration(c.Timeout))
		defer cancel()
		args := []string{"test", "-run", "^$", "-bench", c.Bench, "-count", fmt.Sprint(c.Count)}
		if c.Benchtime != "" {
			args = append(args, "-benchtime", c.Benchtime)
		}
		args = append(args, c.Args...)
		args = append(args, c.Packages...)
		cmd := exec.CommandContext(runCtx, "go", args...)
		cmd.Dir = c.Dir
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		report(progress, 0, 1)
		data, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("go %v in %s: %w: %s", args, c.Dir, err, lastLines(stderr.Bytes(), data))
		}
		report(progress, 1, 1)
		out, src = data, "go test output"
	}
	return parseGoBench(name, bytes.NewReader(out), src)
}

type goBenchAcc struct {
	pkg     string
	name    string
	secOp   []float64
	extra   map[string][]float64
	iters   int
	seconds float64
}

// parseGoBench reads the Go benchmark format with benchfmt.
func parseGoBench(prefix string, r io.Reader, src string) ([]Result, error) {
	rd := benchfmt.NewReader(r, src)
	byKey := map[string]*goBenchAcc{}
	var order []string
	pkgs := map[string]bool{}
	for rd.Scan() {
		rec, ok := rd.Result().(*benchfmt.Result)
		if !ok {
			if se, isErr := rd.Result().(*benchfmt.SyntaxError); isErr {
				return nil, fmt.Errorf("parse %s: %w", src, se)
			}
			continue
		}
		pkg := rec.GetConfig("pkg")
		pkgs[pkg] = true
		key := pkg + "\x00" + rec.Name.String()
		acc := byKey[key]
		if acc == nil {
			acc = &goBenchAcc{pkg: pkg, name: rec.Name.String(), extra: map[string][]float64{}}
			byKey[key] = acc
			order = append(order, key)
		}
		for _, v := range rec.Values {
			switch v.Unit {
			case "ns/op":
				acc.secOp = append(acc.secOp, v.Value/1e9)
				acc.seconds += v.Value / 1e9 * float64(rec.Iters)
			case "sec/op":
				acc.secOp = append(acc.secOp, v.Value)
				acc.seconds += v.Value * float64(rec.Iters)
			default:
				acc.extra[v.Unit] = append(acc.extra[v.Unit], v.Value)
			}
		}
		acc.iters += rec.Iters
	}
	if err := rd.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", src, err)
	}
	if len(order) == 0 {
		return nil, errors.New("no benchmark results in " + src)
	}
	var results []Result
	for _, key := range order {
		acc := byKey[key]
		n := acc.name
		if len(pkgs) > 1 && acc.pkg != "" {
			n = acc.pkg + "." + n
		}
		res := Result{
			Name:            prefix + "/" + n,
			Unit:            "sec/op",
			Better:          LowerIsBetter,
			Samples:         acc.secOp,
			Summary:         Summarize(acc.secOp),
			Requests:        int64(acc.iters),
			DurationSeconds: acc.seconds,
		}
		if res.Summary.Median > 0 {
			res.Throughput = 1 / res.Summary.Median
		}
		if len(acc.extra) > 0 {
			res.Extra = map[string]float64{}
			for u, vs := range acc.extra {
				res.Extra[u] = Describe(vs).Median
			}
		}
		results = append(results, res)
	}
	return results, nil
}

// lastLines returns the tail of a failed command's output for the error.
func lastLines(bufs ...[]byte) string {
	all := bytes.TrimSpace(bytes.Join(bufs, []byte("\n")))
	if len(all) > 2000 {
		all = all[len(all)-2000:]
	}
	return string(all)
}
