package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mcphost/mcphost/internal/testpostgres"
)

// TestMain stops the PostgreSQL server the tests share (started on first use).
func TestMain(m *testing.M) { testpostgres.Main(m) }

// newPostgresStore opens a store on a fresh database, as the application role.
func newPostgresStore(t *testing.T) (*pgStore, *testpostgres.Database) {
	t.Helper()
	db := testpostgres.Shared(t).NewDatabase(t)
	s, created, err := openPostgres(context.Background(), db.AppDSN)
	if err != nil || !created {
		t.Fatalf("openPostgres: created=%v, %v", created, err)
	}
	t.Cleanup(func() { s.Close() })
	return s, db
}

// superConn connects to db as the superuser, whom row-level security never
// applies to: the tests' view of what is really stored.
func superConn(t *testing.T, db *testpostgres.Database) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), db.SuperDSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// withUser is dsn with another user and password.
func withUser(t *testing.T, dsn, user, password string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(user, password)
	return u.String()
}

func TestStorePostgres(t *testing.T) {
	testStore(t, func(t *testing.T) Store {
		s, _ := newPostgresStore(t)
		return s
	})
}

// TestPostgresRowLevelSecurity takes the org_id filter out of the queries and
// shows the policy alone still refuses another tenant's rows, while the control
// (the same unfiltered query as the superuser, whom the policy does not bind)
// does see them: with row-level security off, this test fails.
func TestPostgresRowLevelSecurity(t *testing.T) {
	ctx := context.Background()
	s, db := newPostgresStore(t)
	bDoc, err := s.Create(ctx, "org_b", Document{Title: "b secret", Body: "for org_b only", CreatedBy: "u"})
	if err != nil {
		t.Fatal(err)
	}
	aDoc, err := s.Create(ctx, "org_a", Document{Title: "a doc", Body: "mine", CreatedBy: "u"})
	if err != nil {
		t.Fatal(err)
	}

	rls := &pgStore{pool: s.pool, unfiltered: true}
	if got, err := rls.Get(ctx, "org_b", bDoc.ID); err != nil || got != bDoc {
		t.Fatalf("unfiltered get of an own document = %+v, %v", got, err)
	}
	if _, err := rls.Get(ctx, "org_a", bDoc.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("unfiltered get across tenants: %v, want ErrNotFound", err)
	}
	for _, q := range []string{"", "secret", "%"} {
		docs, err := rls.List(ctx, "org_a", ListOptions{Query: q, Limit: 100})
		if err != nil || len(docs) > 1 || (len(docs) == 1 && docs[0].ID != aDoc.ID) {
			t.Errorf("unfiltered list %q for org_a = %v, %v; want only %s", q, docs, err, aDoc.ID)
		}
	}
	if docs, err := rls.List(ctx, "org_c", ListOptions{Limit: 100}); err != nil || len(docs) != 0 {
		t.Errorf("unfiltered list for an organization with no documents = %v, %v", docs, err)
	}
	if err := rls.Delete(ctx, "org_a", bDoc.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("unfiltered delete across tenants: %v, want ErrNotFound", err)
	}

	// Control: the row is really there, and the same unfiltered queries on a
	// connection the policy does not bind return it.
	super := superConn(t, db)
	var n int
	if err := super.QueryRow(ctx, `SELECT count(*) FROM documents WHERE id = $1`, bDoc.ID).Scan(&n); err != nil || n != 1 {
		t.Fatalf("control: org_b's row count = %d, %v", n, err)
	}
	superPool, err := pgxpool.New(ctx, db.SuperDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer superPool.Close()
	bypass := &pgStore{pool: superPool, unfiltered: true}
	if got, err := bypass.Get(ctx, "org_a", bDoc.ID); err != nil || got.ID != bDoc.ID {
		t.Fatalf("control: unfiltered get as the superuser = %+v, %v; the test could not tell RLS from nothing", got, err)
	}
	if docs, err := bypass.List(ctx, "org_c", ListOptions{Limit: 100}); err != nil || len(docs) != 2 {
		t.Fatalf("control: unfiltered list as the superuser = %d documents, %v; want 2", len(docs), err)
	}

	// WITH CHECK: a transaction of org_a cannot write a row of org_b.
	err = s.inOrg(ctx, "org_a", pgx.ReadWrite, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO documents (id, org_id, title, body, created_by, created_at) VALUES ('doc_x', 'org_b', 't', 'b', 'u', now())`)
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "row-level security") {
		t.Errorf("insert into another tenant: %v, want a row-level security violation", err)
	}
	err = s.inOrg(ctx, "org_a", pgx.ReadWrite, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE documents SET org_id = 'org_b' WHERE id = $1`, aDoc.ID)
		if err == nil {
			err = fmt.Errorf("moved %d rows to org_b", tag.RowsAffected())
		}
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "row-level security") {
		t.Errorf("moving a row to another tenant: %v, want a row-level security violation", err)
	}

	// Outside a tenant's transaction the application role sees nothing, and
	// the tenant does not outlive its transaction on a pooled connection.
	one, err := pgxpool.New(ctx, db.AppDSN+"&pool_max_conns=1")
	if err != nil {
		t.Fatal(err)
	}
	defer one.Close()
	single := &pgStore{pool: one}
	if _, err := single.Get(ctx, "org_b", bDoc.ID); err != nil {
		t.Fatal(err)
	}
	var setting *string
	if err := one.QueryRow(ctx, `SELECT count(*), current_setting('mcphost.org_id', true) FROM documents`).Scan(&n, &setting); err != nil {
		t.Fatal(err)
	}
	if n != 0 || (setting != nil && *setting != "") {
		t.Errorf("after a transaction of org_b the pooled connection sees %d rows with mcphost.org_id %v", n, *setting)
	}
}

// TestPostgresQueryFilterAlone is the other half: on a connection row-level
// security does not bind (the superuser's), the queries' own org_id filter
// keeps the tenants apart by itself.
func TestPostgresQueryFilterAlone(t *testing.T) {
	for _, run := range []func(*testing.T, Store){testStoreCrossOrg, testStoreRefusesUnscopedCalls} {
		_, db := newPostgresStore(t) // migrated
		superPool, err := pgxpool.New(context.Background(), db.SuperDSN)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(superPool.Close)
		run(t, &pgStore{pool: superPool})
	}
}

// TestPostgresGrantedRole is the stricter setup: migrated by the owner, served
// by a role granted only its reads and writes, which cannot switch the policy
// off and is held to it.
func TestPostgresGrantedRole(t *testing.T) {
	ctx := context.Background()
	srv := testpostgres.Shared(t)
	owner, db := newPostgresStore(t)
	bDoc, err := owner.Create(ctx, "org_b", Document{Title: "b", Body: "b"})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Exec(ctx, `DO $$ BEGIN
		IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'documents_dml') THEN
			CREATE ROLE documents_dml LOGIN NOSUPERUSER NOBYPASSRLS PASSWORD 'dml-s3cret';
		END IF; END $$`); err != nil {
		t.Fatal(err)
	}
	if _, err := superConn(t, db).Exec(ctx, `GRANT SELECT, INSERT, DELETE ON documents TO documents_dml;
		GRANT SELECT ON documents_schema_migrations TO documents_dml`); err != nil {
		t.Fatal(err)
	}
	s, created, err := openPostgres(ctx, withUser(t, db.AppDSN, "documents_dml", "dml-s3cret"))
	if err != nil || created {
		t.Fatalf("open as the granted role: created=%v, %v", created, err)
	}
	t.Cleanup(func() { s.Close() })
	aDoc, err := s.Create(ctx, "org_a", Document{Title: "a", Body: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(ctx, "org_a", aDoc.ID); err != nil || got != aDoc {
		t.Errorf("get own = %+v, %v", got, err)
	}
	rls := &pgStore{pool: s.pool, unfiltered: true}
	if _, err := rls.Get(ctx, "org_a", bDoc.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("unfiltered get across tenants as the granted role: %v", err)
	}
	if _, err := s.pool.Exec(ctx, `ALTER TABLE documents DISABLE ROW LEVEL SECURITY`); err == nil || !strings.Contains(err.Error(), "must be owner") {
		t.Errorf("the granted role turned row-level security off: %v", err)
	}
}

func TestPostgresRefusesPrivilegedRoles(t *testing.T) {
	srv := testpostgres.Shared(t)
	db := srv.NewDatabase(t)
	if err := srv.Exec(context.Background(), `DO $$ BEGIN
		IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'documents_bypass') THEN
			CREATE ROLE documents_bypass LOGIN NOSUPERUSER BYPASSRLS PASSWORD 'bypass-s3cret';
		END IF; END $$`); err != nil {
		t.Fatal(err)
	}
	for name, dsn := range map[string]string{"superuser": db.SuperDSN, "bypassrls": withUser(t, db.AppDSN, "documents_bypass", "bypass-s3cret")} {
		_, _, err := openPostgres(context.Background(), dsn)
		u, _ := url.Parse(dsn)
		pass, _ := u.User.Password()
		if err == nil || !strings.Contains(err.Error(), "DOCUMENTS_DSN") || !strings.Contains(err.Error(), "superuser or has BYPASSRLS") ||
			strings.Contains(err.Error(), pass) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Refused before migrating: the privileged role owns no table.
	var n int
	if err := superConn(t, db).QueryRow(context.Background(), `SELECT count(*) FROM pg_tables WHERE tablename LIKE 'documents%'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("%d documents tables after refused opens, %v", n, err)
	}
}

func TestPostgresMigrations(t *testing.T) {
	ctx := context.Background()
	db := testpostgres.Shared(t).NewDatabase(t)

	// Instances starting at once: exactly one creates the schema, each
	// migration runs once.
	const n = 4
	var wg sync.WaitGroup
	results := make(chan error, n)
	var createdCount sync.Map
	for i := range n {
		wg.Go(func() {
			s, created, err := openPostgres(ctx, db.AppDSN)
			if err == nil {
				createdCount.Store(i, created)
				s.Close()
			}
			results <- err
		})
	}
	wg.Wait()
	close(results)
	for err := range results {
		if err != nil {
			t.Fatal(err)
		}
	}
	creators := 0
	createdCount.Range(func(_, v any) bool {
		if v.(bool) {
			creators++
		}
		return true
	})
	if creators != 1 {
		t.Errorf("%d instances created the schema, want 1", creators)
	}

	super := superConn(t, db)
	var versions []int32
	rows, _ := super.Query(ctx, `SELECT version FROM documents_schema_migrations ORDER BY version`)
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil || len(versions) != len(pgMigrations) || versions[len(versions)-1] != int32(len(pgMigrations)) {
		t.Errorf("recorded versions %v, %v; want 1..%d", versions, err, len(pgMigrations))
	}
	var owner string
	var enabled, forced bool
	if err := super.QueryRow(ctx, `SELECT pg_get_userbyid(relowner), relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = 'documents'`).
		Scan(&owner, &enabled, &forced); err != nil || owner != testpostgres.AppRole || !enabled || !forced {
		t.Errorf("documents table: owner %s, row security %v, forced %v, %v", owner, enabled, forced, err)
	}

	s, created, err := openPostgres(ctx, db.AppDSN)
	if err != nil || created {
		t.Fatalf("reopen: created=%v, %v", created, err)
	}
	s.Close()

	// A database migrated by a newer plugin is refused rather than misread.
	if _, err := super.Exec(ctx, `INSERT INTO documents_schema_migrations (version) VALUES (99)`); err != nil {
		t.Fatal(err)
	}
	if _, _, err := openPostgres(ctx, db.AppDSN); err == nil || !strings.Contains(err.Error(), "newer") || !strings.Contains(err.Error(), "DOCUMENTS_DSN") {
		t.Errorf("opening a newer schema: %v", err)
	}
}

func TestPostgresSeedsOnlyTheFirstRun(t *testing.T) {
	ctx := context.Background()
	db := testpostgres.Shared(t).NewDatabase(t)
	cfg, err := configFromEnv(func(k string) string { return map[string]string{"DOCUMENTS_DSN": db.AppDSN}[k] })
	if err != nil || cfg.dsn != db.AppDSN || !cfg.seed || cfg.dbPath != "" {
		t.Fatalf("config %+v, %v", cfg, err)
	}
	for range 2 {
		s, err := openStore(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		for org, want := range map[string]int{"org_demo_acme": 3, "org_demo_globex": 2} {
			docs, err := s.List(ctx, org, ListOptions{Limit: 100})
			if err != nil || len(docs) != want {
				t.Errorf("%s: %d demo documents, %v; want %d", org, len(docs), err, want)
			}
		}
		s.Close()
	}
	cfg.seed = false
	db2 := testpostgres.Shared(t).NewDatabase(t)
	cfg.dsn = db2.AppDSN
	s, err := openStore(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if docs, err := s.List(ctx, "org_demo_acme", ListOptions{Limit: 100}); err != nil || len(docs) != 0 {
		t.Errorf("DOCUMENTS_SEED=false seeded %d documents, %v", len(docs), err)
	}
}

// TestDSNErrors: a bad DOCUMENTS_DSN is named, and its password never shown.
func TestDSNErrors(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	if _, err := configFromEnv(env("DOCUMENTS_DB", "/srv/docs.db", "DOCUMENTS_DSN", "postgres://u:s3cret@db/docs")); err == nil ||
		!strings.Contains(err.Error(), "DOCUMENTS_DB") || !strings.Contains(err.Error(), "DOCUMENTS_DSN") || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("both set: %v", err)
	}
	for _, dsn := range []string{
		"mysql://u:s3cret@db/docs",
		"host=db password=s3cret",
		"postgres://u:s3cret@db:notaport/docs",
		"postgres://u:s3cret@db/docs?sslmode=sometimes",
		"postgresql://u:s3cret@db/docs?connect_timeout=soon",
		"postgres://u:s3cret%zz@db/docs",
		"postgres://u:s3cret@[::1/docs",
		"postgres://u@db/docs?password=s3cret&sslmode=sometimes",
		"postgres://u:s3%2Fcret@db:x/docs",
		"postgres://u:s3cret@db/docs?pool_max_conns=lots",
	} {
		_, err := configFromEnv(env("DOCUMENTS_DSN", dsn))
		if err == nil || !strings.HasPrefix(err.Error(), "DOCUMENTS_DSN") || strings.Contains(err.Error(), "s3cret") ||
			strings.Contains(err.Error(), "s3/cret") || strings.Contains(err.Error(), "s3%2Fcret") {
			t.Errorf("%s: %v", dsn, err)
		}
	}
	for _, dsn := range []string{"postgres://u:s3cret@db/docs", "postgresql://db/docs?sslmode=require"} {
		if c, err := configFromEnv(env("DOCUMENTS_DSN", dsn, "MCPHOST_PLUGIN_DATA_DIR", "/data")); err != nil || c != (config{dsn: dsn, seed: true}) {
			t.Errorf("%s: %+v, %v", dsn, c, err)
		}
	}
	if got := redactDSN("postgres://u:s3cret@db:5432/docs?password=s3cret&sslmode=require"); strings.Contains(got, "s3cret") || !strings.Contains(got, "u:xxxxx@db:5432/docs") {
		t.Errorf("redacted DSN %s", got)
	}
}

// TestPostgresConnectErrors: a server that refuses the login is reported with
// DOCUMENTS_DSN, the host, and no password.
func TestPostgresConnectErrors(t *testing.T) {
	db := testpostgres.Shared(t).NewDatabase(t)
	_, _, err := openPostgres(context.Background(), withUser(t, db.AppDSN, testpostgres.AppRole, "wr0ng-s3cret"))
	if err == nil || !strings.Contains(err.Error(), "DOCUMENTS_DSN postgres://"+testpostgres.AppRole+":xxxxx@127.0.0.1") ||
		!strings.Contains(err.Error(), "password authentication failed") || strings.Contains(err.Error(), "wr0ng-s3cret") {
		t.Errorf("wrong password: %v", err)
	}
	missing := strings.Replace(db.AppDSN, "/"+db.Name+"?", "/no_such_db?", 1)
	if _, _, err := openPostgres(context.Background(), missing); err == nil || !strings.Contains(err.Error(), "no_such_db") {
		t.Errorf("missing database: %v", err)
	}
}
