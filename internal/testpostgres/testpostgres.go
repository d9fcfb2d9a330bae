// Package testpostgres starts a real PostgreSQL server on a loopback port for
// tests. Start gives a test its own server; Shared gives every test of a test
// binary one server (started on first use, stopped by Main), and NewDatabase a
// fresh database per test on it, so tests stay isolated without paying for an
// initdb each. `make test` installs the Debian package postgresql when it is
// missing (scripts/test-deps.sh).
//
// Each server has two login roles: the superuser "postgres" and AppRole, an
// ordinary role (NOSUPERUSER NOBYPASSRLS) that owns the test databases, so
// row-level security applies to it as it would to a production application role.
package testpostgres

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// AppRole is the ordinary role tests connect as.
const AppRole = "documents_app"

const superuser = "postgres"

// startTimeout bounds initdb plus the wait for the server to accept connections.
const startTimeout = 60 * time.Second

// Server is a running PostgreSQL server.
type Server struct {
	Host   string // 127.0.0.1
	Port   int
	BinDir string // the PostgreSQL programs this server runs (psql among them)

	major     int    // server major version, e.g. 15
	dir       string // owns data/, the socket and the log; removed on Stop
	superPass string
	appPass   string
	cmd       *exec.Cmd
	exited    chan struct{} // closed when the postgres process has exited
	log       *syncBuffer
	dbs       atomic.Int64
	strategy  string // " STRATEGY FILE_COPY" where supported: faster than WAL_LOG for tiny databases
	stopOnce  sync.Once
}

// Database is one database of a Server, owned by AppRole.
type Database struct {
	Name     string
	AppDSN   string // as AppRole: what an application would be given
	SuperDSN string // as the superuser, which row-level security never applies to
}

// Start runs a server for this test alone, stopped when the test ends. Missing
// PostgreSQL binaries fail the test with how to install them.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

var shared struct {
	once sync.Once
	srv  *Server
	err  error
}

// Shared returns the server all tests of this test binary share, starting it on
// first use. The package's TestMain must call Main, which stops it; tests get
// their isolation from NewDatabase.
func Shared(t testing.TB) *Server {
	t.Helper()
	shared.once.Do(func() { shared.srv, shared.err = start() })
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.srv
}

// Main runs the tests and then stops the shared server, if one was started:
//
//	func TestMain(m *testing.M) { testpostgres.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	if shared.srv != nil {
		shared.srv.Stop()
	}
	os.Exit(code)
}

// DSN is a postgres:// URL for role on database db.
func (s *Server) DSN(role, db string) string {
	pass := s.appPass
	if role == superuser {
		pass = s.superPass
	}
	u := url.URL{Scheme: "postgres", User: url.UserPassword(role, pass), Host: net.JoinHostPort(s.Host, strconv.Itoa(s.Port)), Path: "/" + db,
		RawQuery: "sslmode=disable"}
	return u.String()
}

// SuperDSN is the superuser's DSN for the maintenance database "postgres".
func (s *Server) SuperDSN() string { return s.DSN(superuser, "postgres") }

// NewDatabase creates an empty database owned by AppRole, dropped when the test
// ends (after the test's own cleanups, which close its connections).
func (s *Server) NewDatabase(t testing.TB) *Database {
	t.Helper()
	name := fmt.Sprintf("test_%d", s.dbs.Add(1))
	if err := s.Exec(context.Background(), fmt.Sprintf("CREATE DATABASE %s OWNER %s%s", name, AppRole, s.strategy)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Exec(context.Background(), fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name)); err != nil {
			t.Errorf("testpostgres: %v", err)
		}
	})
	return &Database{Name: name, AppDSN: s.DSN(AppRole, name), SuperDSN: s.DSN(superuser, name)}
}

// Exec runs statements as the superuser on the maintenance database.
func (s *Server) Exec(ctx context.Context, sql string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.SuperDSN())
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("%s: %w", sql, err)
	}
	return nil
}

// Stop shuts the server down at once and removes its files (idempotent).
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		if s.cmd != nil && s.cmd.Process != nil {
			// SIGQUIT is PostgreSQL's immediate shutdown: nothing here is worth
			// a checkpoint.
			_ = s.cmd.Process.Signal(syscall.SIGQUIT)
			select {
			case <-s.exited:
			case <-time.After(10 * time.Second):
				_ = s.cmd.Process.Kill()
				<-s.exited
			}
		}
		_ = os.RemoveAll(s.dir)
	})
}

func start() (*Server, error) {
	bin, err := findBinaries(pgConfigBindir(), "/usr/lib/postgresql", exec.LookPath)
	if err != nil {
		return nil, err
	}
	cred, err := credential()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "testpostgres-")
	if err != nil {
		return nil, err
	}
	s := &Server{Host: "127.0.0.1", BinDir: bin, dir: dir, superPass: randomHex(12), appPass: randomHex(12), log: &syncBuffer{}}
	ok := false
	defer func() {
		if !ok {
			s.Stop()
		}
	}()
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, err
		}
	}
	pwfile := filepath.Join(dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(s.superPass+"\n"), 0o600); err != nil {
		return nil, err
	}
	if cred != nil {
		if err := os.Chown(pwfile, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()

	// --no-sync and fsync=off: a test database need not survive a power cut.
	initdb := s.command(ctx, cred, filepath.Join(bin, "initdb"), "--pgdata", filepath.Join(dir, "data"), "--username", superuser,
		"--pwfile", pwfile, "--auth", "scram-sha-256", "--encoding", "UTF8", "--no-locale", "--no-sync", "--no-instructions")
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("testpostgres: initdb: %v\n%s", err, out)
	}
	_ = os.Remove(pwfile)

	// A port free a moment ago may be taken by the time the server binds it:
	// try a few.
	for attempt := 0; ; attempt++ {
		if s.Port, err = freePort(); err != nil {
			return nil, err
		}
		err = s.run(ctx, cred, filepath.Join(bin, "postgres"))
		if err == nil || attempt == 2 || !strings.Contains(s.log.String(), "could not bind") {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	if s.major >= 15 {
		s.strategy = " STRATEGY FILE_COPY"
	}
	if err := s.Exec(ctx, fmt.Sprintf("CREATE ROLE %s LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE PASSWORD '%s'", AppRole, s.appPass)); err != nil {
		return nil, fmt.Errorf("testpostgres: %w", err)
	}
	ok = true
	return s, nil
}

// run starts postgres and waits until it accepts a connection.
func (s *Server) run(ctx context.Context, cred *syscall.Credential, postgres string) error {
	s.log.Reset()
	// exec.Command, not CommandContext: the server outlives ctx, which only
	// bounds the start.
	s.cmd = s.command(context.Background(), cred, postgres, "-D", filepath.Join(s.dir, "data"),
		"-c", "listen_addresses="+s.Host, "-p", strconv.Itoa(s.Port),
		"-c", "unix_socket_directories="+s.dir,
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=200", "-c", "logging_collector=off")
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("testpostgres: starting postgres: %w", err)
	}
	s.exited = make(chan struct{})
	go func(cmd *exec.Cmd, exited chan struct{}) {
		_ = cmd.Wait()
		close(exited)
	}(s.cmd, s.exited)

	// Ready is when a connection succeeds: poll with backoff until then, the
	// process exits, or ctx ends.
	delay := 5 * time.Millisecond
	for {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		conn, err := pgx.Connect(cctx, s.SuperDSN())
		cancel()
		if err == nil {
			// server_version is "15.18 (Debian 15.18-0+deb12u1)": the major version leads.
			major, _, _ := strings.Cut(conn.PgConn().ParameterStatus("server_version"), ".")
			s.major, _ = strconv.Atoi(major)
			_ = conn.Close(ctx)
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("testpostgres: postgres exited before it was ready:\n%s", s.log.String())
		case <-ctx.Done():
			return fmt.Errorf("testpostgres: postgres not ready within %s (last error: %v):\n%s", startTimeout, err, s.log.String())
		case <-time.After(delay):
		}
		delay = min(2*delay, 200*time.Millisecond)
	}
}

// command runs a PostgreSQL binary as cred (nil: as this process's user), with
// a minimal environment, in the server's directory.
func (s *Server) command(ctx context.Context, cred *syscall.Credential, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = s.dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C", "TZ=UTC"}
	// Pdeathsig: a test binary killed mid-run takes its server along (SIGQUIT
	// is an immediate shutdown). The kernel applies it after the credentials.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT}
	return cmd
}

// credential is who runs the server: PostgreSQL refuses to run as root, so
// root runs it as the Debian package's "postgres" user (else "nobody").
func credential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil {
			continue
		}
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
	}
	return nil, errors.New("testpostgres: running as root, but there is no postgres (or nobody) user to run the server as; install the Debian package postgresql")
}

// pgConfigBindir is what `pg_config --bindir` prints, or "".
func pgConfigBindir() string {
	out, err := exec.Command("pg_config", "--bindir").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// findBinaries returns the directory holding initdb and postgres: the
// pg_config bindir, else the newest <debianRoot>/<version>/bin, else the
// directory of the postgres on PATH. (pg_config alone is not enough: Debian's
// libpq-dev has one without the server.)
func findBinaries(bindir, debianRoot string, lookPath func(string) (string, error)) (string, error) {
	has := func(dir string) bool {
		for _, b := range []string{"initdb", "postgres"} {
			if fi, err := os.Stat(filepath.Join(dir, b)); err != nil || fi.IsDir() {
				return false
			}
		}
		return true
	}
	if bindir != "" && has(bindir) {
		return bindir, nil
	}
	entries, _ := os.ReadDir(debianRoot)
	var versions []float64
	byVersion := map[float64]string{}
	for _, e := range entries {
		v, err := strconv.ParseFloat(e.Name(), 64) // "15", "9.6"
		if dir := filepath.Join(debianRoot, e.Name(), "bin"); err == nil && has(dir) {
			versions = append(versions, v)
			byVersion[v] = dir
		}
	}
	if len(versions) > 0 {
		sort.Float64s(versions)
		return byVersion[versions[len(versions)-1]], nil
	}
	if p, err := lookPath("postgres"); err == nil {
		if dir := filepath.Dir(p); has(dir) {
			return dir, nil
		}
	}
	return "", fmt.Errorf("testpostgres: the PostgreSQL server (initdb, postgres) is not installed (looked in pg_config --bindir, %s/*/bin and PATH): "+
		"run `make test` as root (it installs the Debian package postgresql), or apt-get install postgresql", debianRoot)
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// syncBuffer collects the server's log for error messages; the last 64 KiB
// are kept.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() > 64<<10 {
		rest := b.buf.Bytes()[b.buf.Len()-32<<10:]
		b.buf = *bytes.NewBuffer(append([]byte(nil), rest...))
	}
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *syncBuffer) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Reset()
}
