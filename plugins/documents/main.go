// Command documents is a multi-tenant document store: every call reads and writes
// only the documents of the verified caller's organization. The tenant comes from
// req.Caller, never from the arguments, and every query filters by it in SQL.
// Documents live in SQLite (the default, one file per plugin instance) or, with
// DOCUMENTS_DSN, in Postgres shared by every replica, where row-level security
// enforces the tenant a second time.
package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mcphost/mcphost/sdk"
)

// Input limits, enforced with errors that name the field.
const (
	maxTitle     = 200 // characters, after trimming
	maxBody      = 64 << 10
	maxQuery     = 500 // characters
	defaultLimit = 20
	maxLimit     = 100
	excerptLen   = 280 // characters of body shown in lists
)

// ListInput is get-documents' input.
type ListInput struct {
	Query  string `json:"query,omitempty" jsonschema:"text to find in titles and bodies (case-insensitive, matched literally); omit to list all"`
	Limit  *int   `json:"limit,omitempty" jsonschema:"page size, 1 to 100 (default 20)"`
	Cursor string `json:"cursor,omitempty" jsonschema:"next_cursor from the previous page, unchanged"`
}

// ListOutput is one page of documents, newest first.
type ListOutput struct {
	Documents  []Summary `json:"documents"`
	NextCursor string    `json:"next_cursor,omitempty" jsonschema:"pass as cursor to get the next page; absent on the last page"`
}

// Summary is a document in a list: the body is cut to an excerpt, so a page of
// large documents stays small; get-document returns the whole body.
type Summary struct {
	ID        string    `json:"id"`
	Title     string    `json:"title"`
	Excerpt   string    `json:"excerpt"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
}

// IDInput names one document.
type IDInput struct {
	ID string `json:"id" jsonschema:"the document id, e.g. doc_3f2a..."`
}

// CreateInput is create-document's input.
type CreateInput struct {
	Title string `json:"title" jsonschema:"1 to 200 characters"`
	Body  string `json:"body" jsonschema:"the text, at most 64 KiB"`
}

// Deleted confirms a deletion.
type Deleted struct {
	ID      string `json:"id"`
	Deleted bool   `json:"deleted"`
}

// tools holds the handlers; they share one Store.
type tools struct{ store Store }

// orgOf returns the only tenant a call may touch: the verified caller's organization.
func orgOf(req *sdk.Request) (string, error) {
	if req.Caller.OrganizationID == "" {
		return "", errors.New("Organization context required")
	}
	return req.Caller.OrganizationID, nil
}

func (t tools) list(ctx context.Context, req *sdk.Request, in ListInput) (ListOutput, error) {
	org, err := orgOf(req)
	if err != nil {
		return ListOutput{}, err
	}
	opts := ListOptions{Query: strings.TrimSpace(in.Query), Limit: defaultLimit}
	if utf8.RuneCountInString(opts.Query) > maxQuery {
		return ListOutput{}, fmt.Errorf("query: at most %d characters", maxQuery)
	}
	if strings.ContainsRune(opts.Query, 0) {
		return ListOutput{}, errors.New("query: must not contain NUL characters")
	}
	if in.Limit != nil {
		if *in.Limit < 1 || *in.Limit > maxLimit {
			return ListOutput{}, fmt.Errorf("limit: must be 1 to %d, got %d", maxLimit, *in.Limit)
		}
		opts.Limit = *in.Limit
	}
	if in.Cursor != "" {
		if opts.After, err = decodeCursor(in.Cursor); err != nil {
			return ListOutput{}, err
		}
	}
	// Ask for one more than the page to learn whether another page exists.
	want := opts.Limit
	opts.Limit++
	docs, err := t.store.List(ctx, org, opts)
	if err != nil {
		return ListOutput{}, storageError(err)
	}
	out := ListOutput{Documents: []Summary{}}
	if len(docs) > want {
		docs = docs[:want]
		last := docs[want-1]
		out.NextCursor = encodeCursor(Position{CreatedAt: last.CreatedAt, ID: last.ID})
	}
	for _, d := range docs {
		out.Documents = append(out.Documents, Summary{ID: d.ID, Title: d.Title, Excerpt: excerpt(d.Body), CreatedBy: d.CreatedBy, CreatedAt: d.CreatedAt})
	}
	return out, nil
}

func (t tools) get(ctx context.Context, req *sdk.Request, in IDInput) (Document, error) {
	org, err := orgOf(req)
	if err != nil {
		return Document{}, err
	}
	d, err := t.store.Get(ctx, org, in.ID)
	return d, storageError(err)
}

func (t tools) create(ctx context.Context, req *sdk.Request, in CreateInput) (Document, error) {
	org, err := orgOf(req)
	if err != nil {
		return Document{}, err
	}
	if !req.Caller.HasPermission("documents:write") && !req.Caller.HasRole("admin") {
		return Document{}, errors.New("Forbidden: documents:write permission or admin role required")
	}
	title := strings.TrimSpace(in.Title)
	if n := utf8.RuneCountInString(title); n < 1 || n > maxTitle {
		return Document{}, fmt.Errorf("title: must be 1 to %d characters after trimming spaces, got %d", maxTitle, n)
	}
	if len(in.Body) > maxBody {
		return Document{}, fmt.Errorf("body: must be at most %d bytes, got %d", maxBody, len(in.Body))
	}
	// Postgres text cannot hold NUL, so neither backend stores it.
	if strings.ContainsRune(title, 0) {
		return Document{}, errors.New("title: must not contain NUL characters")
	}
	if strings.ContainsRune(in.Body, 0) {
		return Document{}, errors.New("body: must not contain NUL characters")
	}
	d, err := t.store.Create(ctx, org, Document{Title: title, Body: in.Body, CreatedBy: req.Caller.UserID})
	return d, storageError(err)
}

func (t tools) delete(ctx context.Context, req *sdk.Request, in IDInput) (Deleted, error) {
	org, err := orgOf(req)
	if err != nil {
		return Deleted{}, err
	}
	if !req.Caller.HasRole("admin") {
		return Deleted{}, errors.New("Forbidden: admin role required")
	}
	if err := t.store.Delete(ctx, org, in.ID); err != nil {
		return Deleted{}, storageError(err)
	}
	return Deleted{ID: in.ID, Deleted: true}, nil
}

var logger = sdk.Logger()

// storageError passes "document not found" through and hides the rest: database
// errors are for the operator's log, not for the caller.
func storageError(err error) error {
	if err == nil || errors.Is(err, ErrNotFound) {
		return err
	}
	logger.Error("documents storage failed", "error", err.Error())
	return errors.New("document storage failed; the host log has details")
}

// A cursor is opaque to clients but only a position: forging one cannot widen
// what a query sees, because the organization filter is in the SQL regardless.
func encodeCursor(p Position) string {
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%d.%s", p.CreatedAt.UnixNano(), p.ID))
}

func decodeCursor(s string) (*Position, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	nanos, id, ok := strings.Cut(string(raw), ".")
	n, perr := strconv.ParseInt(nanos, 10, 64)
	if err != nil || !ok || perr != nil || id == "" {
		return nil, errors.New("cursor: malformed; pass next_cursor from a previous get-documents result unchanged")
	}
	return &Position{CreatedAt: time.Unix(0, n), ID: id}, nil
}

func excerpt(body string) string {
	if r := []rune(body); len(r) > excerptLen {
		return string(r[:excerptLen]) + "…"
	}
	return body
}

// newPlugin declares the tools over a store, so tests can use their own.
func newPlugin(s Store) sdk.Plugin {
	t := tools{store: s}
	return sdk.Plugin{
		Name:    "documents",
		Version: "1.0.0",
		Tools: []sdk.Tool{
			sdk.NewTypedTool("get-documents", "Lists your organization's documents, newest first, optionally filtered by text in title or body. Pages with limit and cursor.", t.list,
				sdk.WithTitle("List documents"), sdk.ReadOnly()),
			sdk.NewTypedTool("get-document", "Returns one of your organization's documents by id, with its full body.", t.get,
				sdk.WithTitle("Get document"), sdk.ReadOnly()),
			sdk.NewTypedTool("create-document", "Creates a document in your organization. Requires the documents:write permission or the admin role.", t.create,
				sdk.WithTitle("Create document")),
			sdk.NewTypedTool("delete-document", "Deletes one of your organization's documents by id. Requires the admin role.", t.delete,
				sdk.WithTitle("Delete document")),
		},
		ResourceTemplates: []sdk.ResourceTemplate{t.documentTemplate()},
		Prompts:           []sdk.Prompt{t.summarizePrompt()},
	}
}

// config is what the plugin reads from the environment the host gives it.
type config struct {
	dbPath string // SQLite file, when dsn is empty
	dsn    string // Postgres URL, checked by parseDSN
	seed   bool
}

// configFromEnv reads DOCUMENTS_DSN (a postgres:// or postgresql:// URL: keep the
// documents in that Postgres database, shared by every replica), else
// DOCUMENTS_DB (the SQLite file; default documents.db in MCPHOST_PLUGIN_DATA_DIR,
// the directory the host made for this plugin, else in the working directory),
// and DOCUMENTS_SEED (default true: demo documents on a first run).
func configFromEnv(getenv func(string) string) (config, error) {
	c := config{dbPath: getenv("DOCUMENTS_DB"), dsn: getenv("DOCUMENTS_DSN"), seed: true}
	switch {
	case c.dsn != "" && c.dbPath != "":
		return config{}, errors.New("DOCUMENTS_DB and DOCUMENTS_DSN are both set: set DOCUMENTS_DB for SQLite or DOCUMENTS_DSN for Postgres, not both")
	case c.dsn != "":
		if _, err := parseDSN(c.dsn); err != nil {
			return config{}, err
		}
	case c.dbPath == "":
		c.dbPath = filepath.Join(getenv("MCPHOST_PLUGIN_DATA_DIR"), "documents.db")
	}
	if v := getenv("DOCUMENTS_SEED"); v != "" {
		seed, err := strconv.ParseBool(v)
		if err != nil {
			return config{}, fmt.Errorf("DOCUMENTS_SEED: want true or false, got %q", v)
		}
		c.seed = seed
	}
	return c, nil
}

// openStore opens the configured store and seeds a new database with the demo
// documents when asked to.
func openStore(ctx context.Context, cfg config) (Store, error) {
	var store Store
	var created bool
	var err error
	if cfg.dsn != "" {
		store, created, err = openPostgres(ctx, cfg.dsn)
	} else {
		store, created, err = openSQLite(ctx, cfg.dbPath)
	}
	if err != nil {
		return nil, err
	}
	if created && cfg.seed {
		if err := seedDemo(ctx, store); err != nil {
			store.Close()
			return nil, fmt.Errorf("seeding demo documents: %w", err)
		}
	}
	return store, nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "documents:", err)
		os.Exit(1)
	}
}

// run fails before serving on bad config or an unusable database, so the host
// reports the cause at start instead of every call failing.
func run() error {
	cfg, err := configFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	store, err := openStore(context.Background(), cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	sdk.Serve(newPlugin(store))
	return nil
}
