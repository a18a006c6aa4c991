package bench

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

const pgBin = "/usr/lib/postgresql/15/bin"

// startPostgres runs a throwaway PostgreSQL 15 on 127.0.0.1 in a temp dir
// (as user postgres when the test runs as root) and returns its DSN.
func startPostgres(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(filepath.Join(pgBin, "postgres")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("postgresql is not installed (apt package postgresql): %v", err)
		}
		t.Skipf("postgresql is not installed (apt package postgresql): %v", err)
	}
	var cred *syscall.Credential
	dir, err := os.MkdirTemp("", "gmc-bench-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root needs the postgres user: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	command := func(name string, args ...string) *exec.Cmd {
		cmd := exec.Command(filepath.Join(pgBin, name), args...)
		cmd.Dir = dir
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		return cmd
	}
	data := filepath.Join(dir, "data")
	if out, err := command("initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	logf, err := os.Create(filepath.Join(t.TempDir(), "postgres.log"))
	if err != nil {
		t.Fatal(err)
	}
	pg := command("postgres", "-D", data, "-p", strconv.Itoa(port), "-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories="+dir, "-c", "fsync=off")
	pg.Stdout, pg.Stderr = logf, logf
	if err := pg.Start(); err != nil {
		t.Fatalf("start postgres: %v", err)
	}
	t.Cleanup(func() {
		_ = pg.Process.Signal(syscall.SIGINT) // fast shutdown, this PID only
		done := make(chan struct{})
		go func() { _ = pg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = pg.Process.Kill()
			<-done
		}
		logf.Close()
	})
	dsn := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i := 0; ; i++ {
		if err := db.Ping(); err == nil {
			break
		} else if i == 300 {
			log, _ := os.ReadFile(logf.Name())
			t.Fatalf("postgres not ready after 30s: %v\n%s", err, log)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := db.Exec(`CREATE TABLE orders (id serial PRIMARY KEY, account int, qty int);
		INSERT INTO orders (account, qty) SELECT g % 100, g FROM generate_series(1, 10000) g`); err != nil {
		t.Fatal(err)
	}
	return dsn
}

func TestSQLAgainstPostgres(t *testing.T) {
	dsn := startPostgres(t)
	t.Run("iterations", func(t *testing.T) {
		c := &SQLConfig{DSN: dsn, Query: "SELECT count(*), sum(qty) FROM orders WHERE account = $1", Args: []any{42}, Iterations: 300, Warmup: 10, Connections: 2}
		c.Normalise()
		if err := c.validate("sql"); err != nil {
			t.Fatal(err)
		}
		res, err := runSQL(context.Background(), "db", c, nil)
		if err != nil {
			t.Fatal(err)
		}
		l := res.Latency
		if res.Requests != 300 || res.Errors != 0 || l.Count != 300 || len(res.Samples) != 10 || l.CorrectedForCO {
			t.Errorf("result %+v latency %+v", res, l)
		}
		if !(l.Min > 0 && l.P50 >= l.Min && l.P99 >= l.P50 && l.Max >= l.P99) {
			t.Errorf("latency not ordered: %+v", l)
		}
	})
	t.Run("rate", func(t *testing.T) {
		c := &SQLConfig{DSN: dsn, Query: "SELECT 1", Rate: 200, Duration: Duration(time.Second), Connections: 2}
		c.Normalise()
		if err := c.validate("sql"); err != nil {
			t.Fatal(err)
		}
		res, err := runSQL(context.Background(), "db", c, nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.Requests != 200 || res.Errors != 0 || !res.Latency.CorrectedForCO || res.TargetRate != 200 {
			t.Errorf("result %+v", res)
		}
	})
	t.Run("bad query fails fast", func(t *testing.T) {
		c := &SQLConfig{DSN: dsn, Query: "SELECT nope FROM missing"}
		c.Normalise()
		if _, err := runSQL(context.Background(), "db", c, nil); err == nil {
			t.Error("want an error for a bad query")
		}
	})
}
