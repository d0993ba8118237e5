package cli

import (
	"runtime/debug"
	"testing"
)

// TestFromBuildInfo: an unstamped binary takes its commit, date and
// modified flag from the toolchain's git record, and its version from the
// module when it was installed with go install.
func TestFromBuildInfo(t *testing.T) {
	base := BuildInfo{Version: "dev", GoVersion: "go1.26.8", Platform: "linux/amd64", Source: "none"}
	tests := []struct {
		name string
		bi   debug.BuildInfo
		want BuildInfo
	}{
		{"checkout", debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "0123abcd"}, {Key: "vcs.time", Value: "2026-12-01T10:00:00Z"},
			{Key: "vcs.modified", Value: "true"}}},
			BuildInfo{Version: "dev", Commit: "0123abcd", Date: "2026-12-01T10:00:00Z", Modified: true, GoVersion: "go1.26.8",
				Platform: "linux/amd64", Source: "vcs"}},
		{"go install", debug.BuildInfo{Main: debug.Module{Version: "v1.4.0", Sum: "h1:abc="}},
			BuildInfo{Version: "v1.4.0", Module: "h1:abc=", GoVersion: "go1.26.8", Platform: "linux/amd64", Source: "none"}},
		{"nothing recorded", debug.BuildInfo{}, base},
	}
	for _, tt := range tests {
		if got := fromBuildInfo(base, &tt.bi); got != tt.want {
			t.Errorf("%s: %+v, want %+v", tt.name, got, tt.want)
		}
	}
}
