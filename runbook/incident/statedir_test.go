package incident_test

import (
	"os/user"
	"path/filepath"
	"testing"

	"github.com/drbook/drbook/runbook/incident"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestStateDir(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"DRBOOK_STATE_DIR": "/s", "XDG_STATE_HOME": "/x", "HOME": "/h"}, "/s"},
		{map[string]string{"XDG_STATE_HOME": "/x", "HOME": "/h"}, filepath.Join("/x", "drbook")},
		{map[string]string{"HOME": "/h"}, filepath.Join("/h", ".local", "state", "drbook")},
	}
	for _, tt := range tests {
		if got := incident.StateDir(env(tt.env)); got != tt.want {
			t.Errorf("%v: %s, want %s", tt.env, got, tt.want)
		}
	}
	// No HOME (some crons, containers): the system's idea of home, never
	// the working directory.
	if u, err := user.Current(); err == nil && u.HomeDir != "" {
		want := filepath.Join(u.HomeDir, ".local", "state", "drbook")
		if got := incident.StateDir(env(map[string]string{})); got != want {
			t.Errorf("no HOME: %s, want %s", got, want)
		}
	}
}

func TestOperatorFromEnv(t *testing.T) {
	me := "uid"
	if u, err := user.Current(); err == nil {
		me = u.Username
	}
	tests := []struct {
		env  map[string]string
		want incident.Operator
	}{
		{map[string]string{"SUDO_USER": "alice", "USER": "root", "SSH_CONNECTION": "10.1.2.3 50000 10.0.0.1 22"},
			incident.Operator{Name: "alice", Addr: "10.1.2.3"}},
		{map[string]string{"USER": "bob"}, incident.Operator{Name: "bob"}},
		{map[string]string{"LOGNAME": "carol"}, incident.Operator{Name: "carol"}},
		{map[string]string{}, incident.Operator{Name: me}},
	}
	for _, tt := range tests {
		got := incident.OperatorFromEnv(env(tt.env))
		if got != tt.want && !(tt.want.Name == "uid" && len(got.Name) > 4 && got.Name[:4] == "uid ") {
			t.Errorf("%v: %+v, want %+v", tt.env, got, tt.want)
		}
	}
	if s := (incident.Operator{Name: "alice", Addr: "10.1.2.3"}).String(); s != "alice (10.1.2.3)" {
		t.Errorf("String: %q", s)
	}
}
