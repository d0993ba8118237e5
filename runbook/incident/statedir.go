package incident

import (
	"os"
	"os/user"
	"strconv"

	"github.com/drbook/drbook/steps/system"
)

// StateDir is where drbook keeps its state database when no --state-dir is
// given: $DRBOOK_STATE_DIR, else $XDG_STATE_HOME/drbook, else
// ~/.local/state/drbook ($HOME from getenv; without it, as under some
// crons and containers, the user's home directory from the system, so
// that the state never lands in whatever directory drbook was started in).
func StateDir(getenv func(string) string) string { return system.StateDir(getenv) }

// OperatorFromEnv returns who runs drbook: $SUDO_USER (the person behind
// sudo), else $USER, else $LOGNAME, else the process's user name from the
// system (or "uid N"), with the client address from
// $SSH_CONNECTION ("client-ip client-port server-ip server-port") when the
// session is over SSH.
func OperatorFromEnv(getenv func(string) string) Operator {
	var op Operator
	for _, k := range []string{"SUDO_USER", "USER", "LOGNAME"} {
		if v := getenv(k); v != "" {
			op.Name = v
			break
		}
	}
	if op.Name == "" { // cron, CI, containers: ask the system
		if u, err := user.Current(); err == nil && u.Username != "" {
			op.Name = u.Username
		} else {
			op.Name = "uid " + strconv.Itoa(os.Getuid())
		}
	}
	if c := getenv("SSH_CONNECTION"); c != "" {
		if f := splitFields(c); len(f) > 0 {
			op.Addr = f[0]
		}
	}
	return op
}
