package shell

import (
	"fmt"
	"strings"
	"testing"
)

func TestSplitSQL(t *testing.T) {
	tests := []struct {
		name string
		code string
		want string // segments as line:text, dot-commands marked with !
	}{
		{"two", "SELECT 1;\nSELECT 2;", "[1:SELECT 1; 2:SELECT 2;]"},
		{"no final semicolon", "SELECT 1;\nSELECT 2", "[1:SELECT 1; 2:SELECT 2]"},
		{"comments", "-- a; b\nSELECT /* ; */ 1;", "[2:SELECT   1;]"},
		{"quoted semicolons", "SELECT ';', \"a;b\", [c;d];", "[1:SELECT ';', \"a;b\", [c;d];]"},
		{"doubled quote", "SELECT 'it''s; fine';", "[1:SELECT 'it''s; fine';]"},
		{"dot command", "PRAGMA x;\n.restore /b/q.db\nSELECT 1;", "[1:PRAGMA x; !2:.restore /b/q.db 3:SELECT 1;]"},
		{"dot inside statement is SQL", "SELECT\n.5;", "[1:SELECT\n.5;]"},
		{"trigger", "CREATE TRIGGER t AFTER INSERT ON a BEGIN UPDATE b SET c = 1; DELETE FROM d; END;\nSELECT 1;", "[1:CREATE TRIGGER t AFTER INSERT ON a BEGIN UPDATE b SET c = 1; DELETE FROM d; END; 2:SELECT 1;]"},
		{"empty statements", ";;\n;", "[]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			segs, err := splitSQL(tt.code)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range segs {
				mark := ""
				if s.dot {
					mark = "!"
				}
				got = append(got, fmt.Sprintf("%s%d:%s", mark, s.line, s.text))
			}
			if fmt.Sprint(got) != tt.want {
				t.Errorf("got %q\nwant %q", fmt.Sprint(got), tt.want)
			}
		})
	}
	for _, bad := range []string{"SELECT 'x", "SELECT /* x", "SELECT \"x"} {
		if _, err := splitSQL(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// FuzzSplitSQL: any block splits or is refused, never panics, and every
// segment starts on a line of the block.
func FuzzSplitSQL(f *testing.F) {
	f.Add("PRAGMA integrity_check;\n.restore /b/q.db\nSELECT 'a;b' -- x;\n/* ; */ FROM t;")
	f.Add("CREATE TRIGGER t AFTER INSERT ON a BEGIN SELECT 1; END;")
	f.Add(".tables\n[x;y] `z` \"w\"")
	f.Fuzz(func(t *testing.T, code string) {
		segs, err := splitSQL(code)
		if err != nil {
			return
		}
		lines := strings.Count(code, "\n") + 1
		for _, s := range segs {
			if s.line < 1 || s.line > lines || strings.TrimSpace(s.text) == "" {
				t.Fatalf("segment %+v in %d lines", s, lines)
			}
		}
	})
}
