package audit

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func readLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("not a JSON line: %q", sc.Text())
		}
		out = append(out, m)
	}
	return out
}

// TestFileReopenedForRotation: records go to the file as JSON lines; after the
// file is moved away (logrotate) and Reopen is called, new records go to a new
// file at the configured path and none is lost.
func TestFileReopenedForRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	l, err := Open(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.Write(Record{Time: time.Now(), Method: "tools/call", Tool: "whoami", Decision: Allowed, Outcome: OK, Session: "stateless", Arguments: json.RawMessage(`{"secret":"x"}`)})
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	l.Write(Record{Method: "tools/call", Tool: "second", Decision: Allowed, Session: "stateless"}) // still to the moved file
	if err := l.Reopen(); err != nil {
		t.Fatal(err)
	}
	l.Write(Record{Method: "tools/call", Tool: "third", Decision: Allowed, Session: "stateless"})
	old, cur := readLines(t, path+".1"), readLines(t, path)
	if len(old) != 2 || len(cur) != 1 || old[0]["tool"] != "whoami" || cur[0]["tool"] != "third" {
		t.Fatalf("rotated file %v, new file %v", old, cur)
	}
	if _, ok := old[0]["arguments"]; ok {
		t.Error("arguments logged without include_arguments")
	}
	if info, _ := os.Stat(path); info.Mode().Perm() != 0o600 {
		t.Errorf("audit file mode %v, want 0600", info.Mode().Perm())
	}
}

func TestArgumentsOnlyWhenAsked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l, err := Open(path, true)
	if err != nil {
		t.Fatal(err)
	}
	l.Write(Record{Method: "tools/call", Decision: Allowed, Arguments: json.RawMessage(`{"q":"x"}`)})
	l.Close()
	if got := readLines(t, path); len(got) != 1 || got[0]["arguments"].(map[string]any)["q"] != "x" {
		t.Errorf("with include_arguments: %v", got)
	}
}

func TestOpenErrorNamesTheKey(t *testing.T) {
	_, err := Open(filepath.Join(t.TempDir(), "missing", "dir", "audit.log"), false)
	if err == nil || !strings.Contains(err.Error(), "audit.output") {
		t.Fatalf("Open in a missing directory: %v", err)
	}
}

func TestNilLogDrops(t *testing.T) {
	var l *Log
	l.Write(Record{Method: "x"}) // must not panic
	if l.IncludeArguments() || l.Reopen() != nil || l.Close() != nil {
		t.Error("a nil Log is not inert")
	}
}
