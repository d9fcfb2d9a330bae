package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // pure Go: the plugin stays a single static binary
)

// migrations are applied in order, each exactly once; PRAGMA user_version records
// how many have run. Append new ones, never edit old ones.
var migrations = []string{
	`CREATE TABLE documents (
		id         TEXT PRIMARY KEY,
		org_id     TEXT NOT NULL,
		title      TEXT NOT NULL,
		body       TEXT NOT NULL,
		created_by TEXT NOT NULL,
		created_at INTEGER NOT NULL -- Unix nanoseconds
	);
	CREATE INDEX documents_by_org ON documents (org_id, created_at DESC, id DESC);`,
}

// sqliteStore is the embedded Store: one SQLite file in WAL mode, so readers never
// wait for the writer, with a busy timeout, so concurrent writers (including a
// second plugin instance during a hot swap) queue rather than fail.
type sqliteStore struct{ db *sql.DB }

// openSQLite opens or creates the database at path and brings its schema up to
// date. created reports whether the schema was created now, i.e. a first run.
func openSQLite(ctx context.Context, path string) (s *sqliteStore, created bool, err error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, false, err
	}
	// Create the file owner-only before SQLite would create it world-readable:
	// it holds every organization's documents.
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("documents database: %w", err)
	}
	f.Close()

	// _txlock=immediate takes the write lock at BEGIN, so a transaction never
	// fails halfway when it upgrades from reading to writing.
	dsn := "file:" + (&url.URL{Path: abs}).EscapedPath() +
		"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, false, err
	}
	created, err = migrate(ctx, db)
	if err != nil {
		db.Close()
		return nil, false, fmt.Errorf("documents database %s: %w", abs, err)
	}
	return &sqliteStore{db: db}, created, nil
}

// migrate runs the pending migrations in one transaction, reading the version
// inside it so two processes starting at once cannot both apply a migration.
func migrate(ctx context.Context, db *sql.DB) (created bool, err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	var version int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return false, err
	}
	if version > len(migrations) {
		return false, fmt.Errorf("schema version %d is newer than this plugin knows (%d); upgrade the plugin", version, len(migrations))
	}
	for i := version; i < len(migrations); i++ {
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			return false, fmt.Errorf("migration %d: %w", i+1, err)
		}
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", len(migrations))); err != nil {
		return false, err
	}
	return version == 0, tx.Commit()
}

// likeEscaper makes user text match literally inside LIKE ... ESCAPE '\'.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

func (s *sqliteStore) List(ctx context.Context, orgID string, opts ListOptions) ([]Document, error) {
	if orgID == "" {
		return nil, errNoOrg
	}
	if strings.ContainsRune(opts.Query, 0) {
		// The driver would cut the pattern at the NUL and match everything;
		// no document holds one (the tools refuse it), so nothing matches.
		return []Document{}, nil
	}
	// Only fixed SQL fragments are concatenated; every value is a parameter.
	q := `SELECT id, title, body, created_by, created_at FROM documents WHERE org_id = ?`
	args := []any{orgID}
	if opts.Query != "" {
		q += ` AND (title LIKE ? ESCAPE '\' OR body LIKE ? ESCAPE '\')`
		pattern := "%" + likeEscaper.Replace(opts.Query) + "%"
		args = append(args, pattern, pattern)
	}
	if opts.After != nil {
		q += ` AND (created_at, id) < (?, ?)`
		args = append(args, opts.After.CreatedAt.UnixNano(), opts.After.ID)
	}
	q += ` ORDER BY created_at DESC, id DESC LIMIT ?`
	args = append(args, opts.Limit)

	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	docs := []Document{}
	for rows.Next() {
		d, err := scanDocument(rows)
		if err != nil {
			return nil, err
		}
		docs = append(docs, d)
	}
	return docs, rows.Err()
}

func (s *sqliteStore) Get(ctx context.Context, orgID, id string) (Document, error) {
	if orgID == "" {
		return Document{}, errNoOrg
	}
	row := s.db.QueryRowContext(ctx,
		`SELECT id, title, body, created_by, created_at FROM documents WHERE org_id = ? AND id = ?`, orgID, id)
	d, err := scanDocument(row)
	if errors.Is(err, sql.ErrNoRows) {
		return Document{}, ErrNotFound
	}
	return d, err
}

func (s *sqliteStore) Create(ctx context.Context, orgID string, doc Document) (Document, error) {
	if orgID == "" {
		return Document{}, errNoOrg
	}
	doc.ID = "doc_" + randomHex(16)
	doc.CreatedAt = time.Now().UTC()
	_, err := s.db.ExecContext(ctx,
		`INSERT INTO documents (id, org_id, title, body, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		doc.ID, orgID, doc.Title, doc.Body, doc.CreatedBy, doc.CreatedAt.UnixNano())
	if err != nil {
		return Document{}, err
	}
	return doc, nil
}

func (s *sqliteStore) Delete(ctx context.Context, orgID, id string) error {
	if orgID == "" {
		return errNoOrg
	}
	res, err := s.db.ExecContext(ctx, `DELETE FROM documents WHERE org_id = ? AND id = ?`, orgID, id)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return ErrNotFound
	}
	return nil
}

func (s *sqliteStore) Close() error { return s.db.Close() }

func scanDocument(row interface{ Scan(...any) error }) (Document, error) {
	var d Document
	var nanos int64
	if err := row.Scan(&d.ID, &d.Title, &d.Body, &d.CreatedBy, &nanos); err != nil {
		return Document{}, err
	}
	d.CreatedAt = time.Unix(0, nanos).UTC()
	return d, nil
}

// randomHex returns n random bytes as hex: ids that cannot be guessed or enumerated.
func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand, Go 1.24+)
	return hex.EncodeToString(b)
}
