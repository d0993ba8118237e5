package checks_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drbook/drbook/checks"
)

// agentsFinding returns the config check's finding about agent files.
func agentsFinding(t *testing.T, root string) checks.Finding {
	t.Helper()
	rep, _ := MustRun(t, checks.Options{Root: root, Only: []string{checks.Config}})
	for _, f := range rep.Findings {
		if f.Item == "agents" {
			return f
		}
	}
	t.Fatal("no agents finding")
	return checks.Finding{}
}

// An agent the settings enable but whose configuration file is gone is a
// failure naming the file; the other agents still parse.
func TestConfigNamesAMissingEnabledAgent(t *testing.T) {
	root := MustSandbox(t, "agent-down")
	f := agentsFinding(t, root)
	if f.Status != checks.Fail || !strings.Contains(f.Message, "config/agents/execution_agent.json") {
		t.Errorf("agents: %s", checks.Line(f))
	}
	log, err := os.ReadFile(filepath.Join(root, "logs", "agents.log"))
	if err != nil || !strings.Contains(string(log), "execution_agent heartbeat stale") {
		t.Errorf("agents.log does not show the stale heartbeat (%v)", err)
	}
}

// Settings written by hand, as QuantAI installations have them: no
// enabled list (nothing to miss), a list naming paths outside the agents
// directory (ignored), a directory outside the root (ignored).
func TestConfigAgentListsFromTheOutsideWorld(t *testing.T) {
	for name, yaml := range map[string]string{
		"no list":         "agents:\n  directory: config/agents\n  heartbeat_seconds: 15\n",
		"path names":      "agents:\n  directory: config/agents\n  enabled: [../../etc/passwd, \"\", market_analyst]\n",
		"outside root":    "agents:\n  directory: ../../../etc\n  enabled: [market_analyst]\n",
		"agents a list":   "agents: [market_analyst, risk_manager]\n",
		"not yaml at all": "agents: {directory: [\n",
	} {
		t.Run(name, func(t *testing.T) {
			root := MustSandbox(t)
			if err := os.WriteFile(filepath.Join(root, "config", "quantai.yaml"), []byte(yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			if f := agentsFinding(t, root); f.Status != checks.Pass {
				t.Errorf("agents: %s", checks.Line(f))
			}
		})
	}
	// A second settings file enabling an agent with no file is caught.
	root := MustSandbox(t)
	if err := os.WriteFile(filepath.Join(root, "config", "extra.yml"), []byte("agents:\n  enabled: [options_hedger]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if f := agentsFinding(t, root); f.Status != checks.Fail || !strings.Contains(f.Message, "config/agents/options_hedger.json") {
		t.Errorf("agents: %s", checks.Line(f))
	}
}
