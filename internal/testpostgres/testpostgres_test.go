package testpostgres

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { Main(m) }

func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func TestRolesAndDatabases(t *testing.T) {
	ctx := context.Background()
	s := Shared(t)
	if s2 := Shared(t); s2 != s {
		t.Fatal("Shared started a second server")
	}
	a, b := s.NewDatabase(t), s.NewDatabase(t)
	if a.Name == b.Name {
		t.Fatalf("two databases named %s", a.Name)
	}

	app := connect(t, a.AppDSN)
	var role string
	var privileged bool
	if err := app.QueryRow(ctx, `SELECT current_user, rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user`).Scan(&role, &privileged); err != nil {
		t.Fatal(err)
	}
	if role != AppRole || privileged {
		t.Errorf("app DSN connects as %s (superuser or bypassrls: %v)", role, privileged)
	}
	// The app role owns its database, so it can create tables there.
	if _, err := app.Exec(ctx, `CREATE TABLE only_in_a (x int)`); err != nil {
		t.Fatal(err)
	}

	super := connect(t, b.SuperDSN)
	if err := super.QueryRow(ctx, `SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user`).Scan(&role, &privileged); err != nil {
		t.Fatal(err)
	}
	if role != "postgres" || !privileged {
		t.Errorf("super DSN connects as %s (superuser: %v)", role, privileged)
	}
	var n int
	if err := super.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE tablename = 'only_in_a'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("database %s sees %d tables of %s (%v)", b.Name, n, a.Name, err)
	}

	// Only loopback TCP, and a password is required.
	if s.Host != "127.0.0.1" {
		t.Errorf("listening on %s", s.Host)
	}
	bad := strings.Replace(a.AppDSN, s.appPass, "wrong", 1)
	if conn, err := pgx.Connect(ctx, bad); err == nil {
		conn.Close(ctx)
		t.Error("connected with a wrong password")
	}
}

func TestStartAndStop(t *testing.T) {
	s := Start(t)
	if s == Shared(t) {
		t.Fatal("Start returned the shared server")
	}
	connect(t, s.SuperDSN()).Close(context.Background())
	s.Stop()
	if _, err := os.Stat(s.dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("server directory left behind: %v", err)
	}
	if conn, err := pgx.Connect(context.Background(), s.SuperDSN()); err == nil {
		conn.Close(context.Background())
		t.Error("server still answers after Stop")
	}
	s.Stop() // idempotent
}

func TestFindBinaries(t *testing.T) {
	root := t.TempDir()
	server := func(dir string) string {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, b := range []string{"initdb", "postgres"} {
			if err := os.WriteFile(filepath.Join(dir, b), nil, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	noPath := func(string) (string, error) { return "", errors.New("not on PATH") }
	debian := filepath.Join(root, "usr", "lib", "postgresql")
	_ = server(filepath.Join(debian, "9.6", "bin"))
	v15 := server(filepath.Join(debian, "15", "bin"))
	_ = os.MkdirAll(filepath.Join(debian, "16", "bin"), 0o755) // a client-only version
	client := filepath.Join(root, "libpq-dev-bin")             // pg_config without a server
	_ = os.MkdirAll(client, 0o755)
	onPath := server(filepath.Join(root, "opt", "bin"))

	for _, tc := range []struct {
		name, bindir, debian string
		lookPath             func(string) (string, error)
		want                 string
	}{
		{"pg_config", onPath, debian, noPath, onPath},
		{"newest Debian version with a server", client, debian, noPath, v15},
		{"PATH", "", filepath.Join(root, "none"), func(string) (string, error) { return filepath.Join(onPath, "postgres"), nil }, onPath},
	} {
		if got, err := findBinaries(tc.bindir, tc.debian, tc.lookPath); err != nil || got != tc.want {
			t.Errorf("%s: got %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
	_, err := findBinaries(client, filepath.Join(root, "none"), noPath)
	if err == nil || !strings.Contains(err.Error(), "Debian package postgresql") || !strings.Contains(err.Error(), "apt-get install postgresql") {
		t.Errorf("without a server: %v", err)
	}
}
