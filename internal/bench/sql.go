package bench

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	// The pgx database/sql driver, registered as "pgx".
	_ "github.com/jackc/pgx/v5/stdlib"
)

// runSQL measures the latency of a query against a database/sql DSN.
func runSQL(ctx context.Context, name string, c *SQLConfig, progress func(float64)) (Result, error) {
	db, err := sql.Open(c.Driver, c.DSN)
	if err != nil {
		return Result{}, fmt.Errorf("open %s database: %w", c.Driver, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(c.Connections)
	db.SetMaxIdleConns(c.Connections)
	pingCtx, cancel := context.WithTimeout(ctx, time.Duration(c.Timeout))
	err = db.PingContext(pingCtx)
	cancel()
	if err != nil {
		return Result{}, fmt.Errorf("connect to %s database: %w", c.Driver, err)
	}
	do := func(ctx context.Context) error {
		qctx, cancel := context.WithTimeout(ctx, time.Duration(c.Timeout))
		defer cancel()
		rows, err := db.QueryContext(qctx, c.Query, c.Args...)
		if err != nil {
			return err
		}
		for rows.Next() {
		}
		if err := rows.Err(); err != nil {
			rows.Close()
			return err
		}
		return rows.Close()
	}
	// Run the query once to fail fast on a bad statement.
	if err := do(ctx); err != nil {
		return Result{}, fmt.Errorf("run query: %w", err)
	}
	for i := 0; i < c.Warmup && ctx.Err() == nil; i++ {
		_ = do(ctx)
	}
	spec := loadSpec{
		Rate:       c.Rate,
		Duration:   time.Duration(c.Duration),
		Iterations: c.Iterations,
		Workers:    c.Connections,
		Mode:       ModeOpen,
		Samples:    c.Samples,
		Quantile:   c.Quantile,
		Progress:   progress,
	}
	if c.Rate == 0 {
		spec.Mode = ModeClosed
	}
	lr := runLoad(ctx, spec, do)
	if err := ctx.Err(); err != nil {
		return Result{}, fmt.Errorf("sql load: %w", err)
	}
	return lr.result(name, spec), nil
}
