package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The Postgres store is for several plugin instances (host replicas) sharing one
// database. Tenants are kept apart twice: every query filters by org_id, as in
// SQLite, and row-level security refuses any row of another organization even to
// a query that forgot to. Each operation is a transaction that first sets
// mcphost.org_id transaction-locally (set_config(..., true)), which the policy
// compares with; a pooled connection therefore never carries a tenant from one
// call to the next, and a connection with no tenant set sees no rows at all.
//
// Production must not give DOCUMENTS_DSN a superuser or a BYPASSRLS role:
// row-level security never applies to those, so openPostgres refuses them. Use
// an ordinary role (NOSUPERUSER NOBYPASSRLS). The simplest is a role that owns
// the tables, since the migrations create them as the role they connect as;
// FORCE ROW LEVEL SECURITY makes the policy bind the owner too. An owner could
// still turn the policy off with ALTER TABLE, so the stricter setup runs the
// plugin once as the owner (to migrate) and then as a role granted only
// SELECT, INSERT, DELETE ON documents and SELECT ON documents_schema_migrations.

// pgMigrations are applied in order, each exactly once, in one transaction under
// an advisory lock; documents_schema_migrations records which have run. Append
// new ones, never edit old ones.
var pgMigrations = []string{
	`CREATE TABLE documents (
		id         text PRIMARY KEY,
		org_id     text NOT NULL,
		title      text NOT NULL,
		body       text NOT NULL,
		created_by text NOT NULL,
		created_at timestamptz NOT NULL
	);
	CREATE INDEX documents_by_org ON documents (org_id, created_at DESC, id DESC);
	ALTER TABLE documents ENABLE ROW LEVEL SECURITY;
	ALTER TABLE documents FORCE ROW LEVEL SECURITY;
	CREATE POLICY documents_tenant ON documents
		USING (org_id = current_setting('mcphost.org_id', true))
		WITH CHECK (org_id = current_setting('mcphost.org_id', true));`,
}

// migrationLock is the pg_advisory_xact_lock key that serializes migrations of
// plugin instances starting at once (an arbitrary constant: "mcpdocs" in ASCII).
const migrationLock int64 = 0x6d6370646f6373

// startupTimeout bounds connecting and migrating at start, below the host's
// default plugin start_timeout (15s), so the cause reaches the host's log.
const startupTimeout = 10 * time.Second

// pgStore is the Store on a Postgres server.
type pgStore struct {
	pool *pgxpool.Pool
	// unfiltered drops the org_id condition from List, Get and Delete, leaving
	// row-level security as the only guard. Only tests set it, to prove the
	// policy holds on its own.
	unfiltered bool
}

// isPostgresDSN reports whether DOCUMENTS_DSN names a Postgres server.
func isPostgresDSN(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// parseDSN checks a DOCUMENTS_DSN value. Its errors name DOCUMENTS_DSN and never
// contain the password.
func parseDSN(dsn string) (*pgxpool.Config, error) {
	if !isPostgresDSN(dsn) {
		return nil, errors.New("DOCUMENTS_DSN: want a postgres:// or postgresql:// URL (the value is not shown: it may hold a password)")
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's message quotes the URL with the password masked, but the
		// reason it wraps may quote it whole (a URL parse error does).
		return nil, fmt.Errorf("DOCUMENTS_DSN: %s", scrubSecrets(err.Error(), dsn))
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = "mcphost-documents"
	}
	return cfg, nil
}

// openPostgres connects, refuses a role that row-level security does not apply
// to, and brings the schema up to date. created reports whether the schema was
// created now, i.e. a first run.
func openPostgres(ctx context.Context, dsn string) (s *pgStore, created bool, err error) {
	cfg, err := parseDSN(dsn)
	if err != nil {
		return nil, false, err
	}
	where := "documents database (DOCUMENTS_DSN " + redactDSN(dsn) + ")"
	ctx, cancel := context.WithTimeout(ctx, startupTimeout)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, false, fmt.Errorf("%s: %s", where, scrubSecrets(err.Error(), dsn))
	}
	s = &pgStore{pool: pool}
	var role string
	var privileged bool
	err = pool.QueryRow(ctx, `SELECT current_user, rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user`).Scan(&role, &privileged)
	if err == nil && privileged {
		err = fmt.Errorf("role %q is a superuser or has BYPASSRLS, so row-level security would not separate tenants; "+
			"connect as an ordinary role (NOSUPERUSER NOBYPASSRLS) that owns the documents table", role)
	}
	if err == nil {
		created, err = s.migrate(ctx)
	}
	if err != nil {
		pool.Close()
		return nil, false, fmt.Errorf("%s: %s", where, scrubSecrets(err.Error(), dsn))
	}
	return s, created, nil
}

// migrate runs the pending migrations in one transaction holding an advisory
// lock, reading the version under it, so two instances starting at once apply
// each migration once: the second waits, then finds nothing to do.
func (s *pgStore) migrate(ctx context.Context) (created bool, err error) {
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
			return err
		}
		// Only a new database needs DDL here, so a role granted nothing but
		// its reads and writes can start on a migrated one.
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT to_regclass('documents_schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			if _, err := tx.Exec(ctx, `CREATE TABLE documents_schema_migrations (
				version    integer PRIMARY KEY,
				applied_at timestamptz NOT NULL DEFAULT now()
			)`); err != nil {
				return err
			}
		}
		var version int
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM documents_schema_migrations`).Scan(&version); err != nil {
			return err
		}
		if version > len(pgMigrations) {
			return fmt.Errorf("schema version %d is newer than this plugin knows (%d); upgrade the plugin", version, len(pgMigrations))
		}
		for i := version; i < len(pgMigrations); i++ {
			if _, err := tx.Exec(ctx, pgMigrations[i]); err != nil {
				return fmt.Errorf("migration %d: %w", i+1, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO documents_schema_migrations (version) VALUES ($1)`, i+1); err != nil {
				return err
			}
		}
		created = version == 0
		return nil
	})
	return created, err
}

// inOrg runs fn in a transaction scoped to orgID for row-level security.
func (s *pgStore) inOrg(ctx context.Context, orgID string, mode pgx.TxAccessMode, fn func(pgx.Tx) error) error {
	if orgID == "" {
		return errNoOrg
	}
	return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{AccessMode: mode}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT set_config('mcphost.org_id', $1, true)`, orgID); err != nil {
			return err
		}
		return fn(tx)
	})
}

// orgFilter is the query's own tenant condition on parameter $1. Unfiltered
// (tests only) it still uses $1, so parameter numbers stay the same.
func (s *pgStore) orgFilter() string {
	if s.unfiltered {
		return `$1::text IS NOT NULL`
	}
	return `org_id = $1`
}

func (s *pgStore) List(ctx context.Context, orgID string, opts ListOptions) ([]Document, error) {
	if orgID == "" {
		return nil, errNoOrg
	}
	if strings.ContainsRune(opts.Query, 0) {
		return []Document{}, nil // Postgres text cannot hold NUL, so nothing matches
	}
	// Only fixed SQL fragments are concatenated; every value is a parameter.
	q := `SELECT id, title, body, created_by, created_at FROM documents WHERE ` + s.orgFilter()
	args := []any{orgID}
	if opts.Query != "" {
		args = append(args, "%"+likeEscaper.Replace(opts.Query)+"%")
		n := len(args)
		q += fmt.Sprintf(` AND (title ILIKE $%d ESCAPE '\' OR body ILIKE $%d ESCAPE '\')`, n, n)
	}
	if opts.After != nil {
		args = append(args, opts.After.CreatedAt, opts.After.ID)
		q += fmt.Sprintf(` AND (created_at, id) < ($%d, $%d)`, len(args)-1, len(args))
	}
	args = append(args, opts.Limit)
	q += fmt.Sprintf(` ORDER BY created_at DESC, id DESC LIMIT $%d`, len(args))

	docs := []Document{}
	err := s.inOrg(ctx, orgID, pgx.ReadOnly, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			d, err := scanPgDocument(rows)
			if err != nil {
				return err
			}
			docs = append(docs, d)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return docs, nil
}

func (s *pgStore) Get(ctx context.Context, orgID, id string) (Document, error) {
	if orgID == "" {
		return Document{}, errNoOrg
	}
	if strings.ContainsRune(id, 0) {
		return Document{}, ErrNotFound
	}
	var d Document
	err := s.inOrg(ctx, orgID, pgx.ReadOnly, func(tx pgx.Tx) error {
		var err error
		d, err = scanPgDocument(tx.QueryRow(ctx,
			`SELECT id, title, body, created_by, created_at FROM documents WHERE `+s.orgFilter()+` AND id = $2`, orgID, id))
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return Document{}, ErrNotFound
	}
	return d, err
}

func (s *pgStore) Create(ctx context.Context, orgID string, doc Document) (Document, error) {
	doc.ID = "doc_" + randomHex(16)
	// timestamptz keeps microseconds: round now, so the document returned equals
	// the one stored.
	doc.CreatedAt = time.Now().UTC().Truncate(time.Microsecond)
	err := s.inOrg(ctx, orgID, pgx.ReadWrite, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx,
			`INSERT INTO documents (id, org_id, title, body, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
			doc.ID, orgID, doc.Title, doc.Body, doc.CreatedBy, doc.CreatedAt)
		return err
	})
	if err != nil {
		return Document{}, err
	}
	return doc, nil
}

func (s *pgStore) Delete(ctx context.Context, orgID, id string) error {
	if orgID == "" {
		return errNoOrg
	}
	if strings.ContainsRune(id, 0) {
		return ErrNotFound
	}
	return s.inOrg(ctx, orgID, pgx.ReadWrite, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM documents WHERE `+s.orgFilter()+` AND id = $2`, orgID, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return ErrNotFound
		}
		return nil
	})
}

func (s *pgStore) Close() error {
	s.pool.Close()
	return nil
}

func scanPgDocument(row pgx.Row) (Document, error) {
	var d Document
	if err := row.Scan(&d.ID, &d.Title, &d.Body, &d.CreatedBy, &d.CreatedAt); err != nil {
		return Document{}, err
	}
	d.CreatedAt = d.CreatedAt.UTC()
	return d, nil
}

// redactDSN is the DSN fit for a log or an error: the password masked, in the
// user part and in password= parameters.
func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparseable URL)"
	}
	q := u.Query()
	for _, k := range []string{"password", "sslpassword"} {
		if q.Has(k) {
			q.Set(k, "xxxxx")
		}
	}
	u.RawQuery = q.Encode()
	return u.Redacted()
}

// scrubSecrets removes from msg every password that dsn may hold, raw or
// escaped, however broken dsn is.
func scrubSecrets(msg, dsn string) string {
	var secrets []string
	if u, err := url.Parse(dsn); err == nil {
		if p, ok := u.User.Password(); ok {
			secrets = append(secrets, p)
		}
		for _, k := range []string{"password", "sslpassword"} {
			secrets = append(secrets, u.Query()[k]...)
		}
	}
	// By hand too, for a DSN url.Parse refuses: user:password@ in the
	// authority, and password=... parameters.
	_, rest, _ := strings.Cut(dsn, "://")
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		if _, p, ok := strings.Cut(rest[:at], ":"); ok {
			secrets = append(secrets, p)
		}
	}
	if _, query, ok := strings.Cut(dsn, "?"); ok {
		for _, kv := range strings.FieldsFunc(query, func(r rune) bool { return r == '&' || r == ';' }) {
			if k, v, _ := strings.Cut(kv, "="); k == "password" || k == "sslpassword" {
				secrets = append(secrets, v)
			}
		}
	}
	for _, p := range secrets {
		if p == "" {
			continue
		}
		for _, form := range []string{p, url.QueryEscape(p), url.PathEscape(p), url.UserPassword("", p).String()[1:]} {
			if form != "" {
				msg = strings.ReplaceAll(msg, form, "xxxxx")
			}
		}
		if unescaped, err := url.QueryUnescape(p); err == nil && unescaped != "" {
			msg = strings.ReplaceAll(msg, unescaped, "xxxxx")
		}
	}
	return msg
}
