package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSQLitePersistsAcrossReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sub dir?#%", "documents.db") // characters a DSN must escape
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}

	s, created, err := openSQLite(ctx, path)
	if err != nil || !created {
		t.Fatalf("first open: created=%v err=%v", created, err)
	}
	if err := seedDemo(ctx, s); err != nil {
		t.Fatal(err)
	}
	d, err := s.Create(ctx, "org_a", Document{Title: "keep me", Body: "b", CreatedBy: "u"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("database file mode: %v, %v", fi.Mode(), err)
	}

	s, created, err = openSQLite(ctx, path)
	if err != nil || created {
		t.Fatalf("reopen: created=%v err=%v", created, err)
	}
	defer s.Close()
	got, err := s.Get(ctx, "org_a", d.ID)
	if err != nil || got != d {
		t.Errorf("after reopen got %+v, %v; want %+v", got, err, d)
	}
	for org, want := range map[string]int{"org_demo_acme": 3, "org_demo_globex": 2} {
		docs, err := s.List(ctx, org, ListOptions{Limit: 100})
		if err != nil || len(docs) != want {
			t.Errorf("%s: %d demo documents, %v; want %d", org, len(docs), err, want)
		}
	}
	var mode string
	if err := s.db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v", mode, err)
	}
}

func TestSQLiteMigrations(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "documents.db")
	s, _, err := openSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	var version int
	if err := s.db.QueryRow("PRAGMA user_version").Scan(&version); err != nil || version != len(migrations) {
		t.Errorf("user_version = %d, %v; want %d", version, err, len(migrations))
	}
	// A database written by a newer plugin is refused rather than misread.
	if _, err := s.db.Exec("PRAGMA user_version = 99"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, _, err := openSQLite(ctx, path); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("opening a newer schema: %v", err)
	}
}
