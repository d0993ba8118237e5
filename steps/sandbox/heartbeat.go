package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// HeartbeatFile is the trading loop's heartbeat, relative to the root: the
// loop touches it on every cycle, and drbook watch reads its age (package
// health defines the same path).
const HeartbeatFile = "logs/heartbeat"

// WriteHeartbeat touches the sandbox's heartbeat as a running trading loop
// would, with modification time t. Its content never changes, so the same
// seed still gives the same bytes.
func WriteHeartbeat(root string, t time.Time) error {
	p := filepath.Join(root, HeartbeatFile)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	if err := os.WriteFile(p, []byte("quantai trading loop heartbeat: its modification time is the last cycle\n"), 0o644); err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	if err := os.Chtimes(p, t, t); err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	return nil
}
