// Package system names the parts of a QuantAI tree and of drbook's own
// state, so that every action, check and command spells a path once: the
// trading database, .env, config/, logs/, the kill-switch flag file, the
// broker statements, and the marker that makes a tree a drbook sandbox.
// It is a leaf: it imports nothing of drbook's.
package system

import (
	"os"
	"os/user"
	"path/filepath"
)

// Paths of the parts of a QuantAI tree, relative to its root, slash-separated.
const (
	DBFile          = "data/quantai.db"
	DataDir         = "data"
	EnvFile         = ".env"
	ConfigDir       = "config"
	AgentsDir       = "config/agents"
	LogsDir         = "logs"
	MetricsDir      = "metrics"
	KillSwitchFile  = "data/KILL_SWITCH"
	BrokersDir      = "brokers"
	IBKRStatement   = "brokers/ibkr_positions.csv"
	AlpacaStatement = "brokers/alpaca_positions.json"
)

// MarkerFile is the file, directly under a sandbox root, that marks the tree
// as a drbook sandbox. drbook only ever creates, replaces or damages trees
// that carry it, and a drill's shell or SQL block refuses any other root.
const MarkerFile = ".drbook-sandbox"

// DB is the system database under root.
func DB(root string) string { return filepath.Join(root, filepath.FromSlash(DBFile)) }

// Env is the .env file under root.
func Env(root string) string { return filepath.Join(root, EnvFile) }

// Config is the config directory under root.
func Config(root string) string { return filepath.Join(root, ConfigDir) }

// Logs is the logs directory under root.
func Logs(root string) string { return filepath.Join(root, LogsDir) }

// KillSwitch is the kill-switch flag file under root.
func KillSwitch(root string) string { return filepath.Join(root, filepath.FromSlash(KillSwitchFile)) }

// Path joins a slash-separated path relative to root, such as DBFile.
func Path(root, rel string) string { return filepath.Join(root, filepath.FromSlash(rel)) }

// IsSandbox reports whether root is a drbook sandbox: it has the marker
// file, and the marker is a regular file (a directory of that name does not
// make a tree a sandbox).
func IsSandbox(root string) bool {
	if root == "" {
		return false
	}
	fi, err := os.Stat(filepath.Join(root, MarkerFile))
	return err == nil && fi.Mode().IsRegular()
}

// StateDir is where drbook keeps its state (incident database, evidence,
// reports) when no --state-dir is given: $DRBOOK_STATE_DIR, else
// $XDG_STATE_HOME/drbook, else ~/.local/state/drbook ($HOME from getenv;
// without it, as under some crons and containers, the user's home
// directory from the system, so that the state never lands in whatever
// directory drbook was started in).
func StateDir(getenv func(string) string) string {
	if d := getenv("DRBOOK_STATE_DIR"); d != "" {
		return d
	}
	if d := getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "drbook")
	}
	home := getenv("HOME")
	if home == "" {
		if u, err := user.Current(); err == nil && u.HomeDir != "" {
			home = u.HomeDir
		} else {
			home = "."
		}
	}
	return filepath.Join(home, ".local", "state", "drbook")
}
