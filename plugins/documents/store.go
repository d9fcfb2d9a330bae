package main

import (
	"context"
	"errors"
	"time"
)

// Store keeps documents. Every method takes the organization explicitly and must
// filter by it inside the query, so a document of another organization is
// indistinguishable from a missing one (ErrNotFound). The SQLite implementation is
// the embedded default; a server database only needs these methods.
type Store interface {
	// List returns up to opts.Limit documents, newest first.
	List(ctx context.Context, orgID string, opts ListOptions) ([]Document, error)
	Get(ctx context.Context, orgID, id string) (Document, error)
	// Create stores doc's Title, Body and CreatedBy, assigning ID and CreatedAt.
	Create(ctx context.Context, orgID string, doc Document) (Document, error)
	Delete(ctx context.Context, orgID, id string) error
	Close() error
}

// ListOptions selects one page of a List.
type ListOptions struct {
	Query string    // case-insensitive substring of title or body; "" matches all
	Limit int       // page size
	After *Position // continue after this document; nil starts at the newest
}

// Position is a place in the newest-first order: (CreatedAt, ID) descending.
type Position struct {
	CreatedAt time.Time
	ID        string
}

// Document is one stored document.
type Document struct {
	ID        string    `json:"id"`
	Title     string    `json:"title"`
	Body      string    `json:"body"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
}

// ErrNotFound is returned for a missing document and for another organization's.
var ErrNotFound = errors.New("document not found")

// errNoOrg guards the stores against an unscoped call slipping through.
var errNoOrg = errors.New("documents store: organization id required")
