package positions

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/drbook/drbook/steps"
	"github.com/drbook/drbook/steps/system"
)

// ErrNoDatabase is the cause when the system database is missing.
var ErrNoDatabase = errors.New("system database not found")

// OpenDB opens the system database under root read-only; a missing file
// is ErrNoDatabase.
func OpenDB(root string) (*sql.DB, error) {
	path, err := filepath.Abs(system.DB(root))
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrNoDatabase, path)
	}
	return steps.OpenDB(path, steps.ReadOnly)
}

// DB returns the positions the system database holds at one broker, by
// symbol.
func DB(ctx context.Context, root, broker string) (map[string]Position, error) {
	db, err := OpenDB(root)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT id, symbol, quantity, avg_price FROM positions WHERE broker = ? ORDER BY symbol`, broker)
	if err != nil {
		return nil, fmt.Errorf("read positions: %w", err)
	}
	out := map[string]Position{}
	for rows.Next() {
		var id int64
		var p Position
		if err := rows.Scan(&id, &p.Symbol, &p.Qty, &p.AvgPrice); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read positions: %w", err)
		}
		out[p.Symbol] = p
	}
	if err := rows.Err(); err != nil {
		rows.Close()
		return nil, err
	}
	return out, rows.Close()
}
