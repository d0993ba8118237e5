package runbook_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The domain packages know nothing of the terminal (see STYLE.md): they
// never import ui/, bubbletea or lipgloss, directly or through another
// package.
func TestDomainDoesNotImportUI(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go command not found")
	}
	cmd := exec.Command("go", "list", "-e", "-deps", "-f", "{{.ImportPath}} {{if .DepsErrors}}depserr{{end}}",
		"./runbook/...", "./steps/...", "./checks/...")
	cmd.Dir = ".."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	forbidden := []string{
		"github.com/drbook/drbook/ui",
		"github.com/charmbracelet/bubbletea",
		"github.com/charmbracelet/lipgloss",
		"github.com/charmbracelet/bubbles",
		"github.com/charmbracelet/glamour",
	}
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg := strings.Fields(line)[0]
		n++
		for _, f := range forbidden {
			if pkg == f || strings.HasPrefix(pkg, f+"/") {
				t.Errorf("a domain package depends on %s; find who with: go list -deps -f '{{.ImportPath}}: {{.Imports}}' ./runbook/... ./steps/... ./checks/...", pkg)
			}
		}
	}
	if n < 10 {
		t.Errorf("go list returned only %d packages: %s", n, out)
	}
}

// floors are the packages under steps/ and checks/ that actions may
// import: each holds one shared piece of the QuantAI system (its paths,
// database files and open modes, .env and redaction, process execution,
// tables, broker statements, the .recover salvage, the checks library).
// Every other package there is an action package (or steps/all, the one
// list that registers them), and adding an action needs no change here.
var floors = map[string]bool{
	"steps":           true, // the Action interface, Env, the registry, OpenDB
	"steps/dbfile":    true, // a SQLite file's bytes and read-only open modes
	"steps/positions": true, // broker statements and the database's positions
	"steps/proc":      true, // process execution
	"steps/redact":    true, // .env parsing and redaction
	"steps/salvage":   true, // the .recover salvage
	"steps/system":    true, // the QuantAI tree's paths and the sandbox marker
	"steps/table":     true, // plain-text tables
	"steps/mototest":  true, // an S3 test server
	"steps/s3fake":    true, // an in-process S3 test server
	"steps/s3conn":    true, // an S3 bucket's URL and client
	"steps/notify":    true, // delivery through webhooks and SMTP (the notify step is steps/notifystep)
	"steps/sandbox":   true, // the generated QuantAI sandbox and its faults (no action)
	"checks":          true, // the checks library (checks/checkaction runs them as actions)
}

// No action imports another (see STYLE.md): what two actions share lives
// one floor down, and a floor imports no action. Only steps/all, the list
// the composition root registers, links actions together.
func TestNoActionImportsAnother(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go command not found")
	}
	const mod = "github.com/drbook/drbook/"
	cmd := exec.Command("go", "list", "-e", "-f", "{{.ImportPath}} {{join .Deps \" \"}}", "./steps/...", "./checks/...")
	cmd.Dir = ".."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	actions := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(fields[0], mod)
		if pkg == "steps/all" {
			continue
		}
		if !floors[pkg] {
			actions++
		}
		for _, d := range fields[1:] {
			rel, ok := strings.CutPrefix(d, mod)
			if !ok || floors[rel] || !(rel == "steps" || rel == "checks" || strings.HasPrefix(rel, "steps/") || strings.HasPrefix(rel, "checks/")) {
				continue
			}
			if floors[pkg] {
				t.Errorf("floor %s depends on the action package %s: a floor imports only floors", pkg, rel)
			} else {
				t.Errorf("action %s depends on the action package %s: move what they share one floor down (see STYLE.md)", pkg, rel)
			}
		}
	}
	if actions < 6 {
		t.Errorf("found only %d action packages: %s", actions, out)
	}
}

// TestOneWayToOpenADatabase: outside steps/dbfile (the QuantAI database
// files) and runbook/incident (drbook's own state database), no
// non-test source calls sql.Open, so an open mode means the same
// everywhere.
func TestOneWayToOpenADatabase(t *testing.T) {
	allowed := map[string]bool{"steps/dbfile": true, "runbook/incident": true}
	root := ".."
	n := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if rel == filepath.Join("ui", "third_party") || strings.HasPrefix(d.Name(), ".") && rel != "." || d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		n++
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(node ast.Node) bool {
			call, ok := node.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != "Open" {
				return true
			}
			if x, ok := sel.X.(*ast.Ident); ok && x.Name == "sql" && !allowed[filepath.ToSlash(filepath.Dir(rel))] {
				t.Errorf("%s calls sql.Open: open a QuantAI database with dbfile.Open or dbfile.OpenURI (steps.OpenDB in an action)", rel)
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 50 {
		t.Errorf("walked only %d Go files", n)
	}
}
