package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/mcphost/mcphost/sdk"
)

// The documents plugin also offers each document as a resource and a prompt
// that summarizes one. Both are scoped by the caller's organization exactly like
// the tools: another organization's document is simply not found.

const documentURIPrefix = "documents://"

// documentTemplate serves documents://{id}.
func (t tools) documentTemplate() sdk.ResourceTemplate {
	return sdk.ResourceTemplate{
		URITemplate: documentURIPrefix + "{id}",
		Name:        "document",
		Title:       "Document",
		Description: "One of your organization's documents, as Markdown.",
		MIMEType:    "text/markdown",
		Read: func(ctx context.Context, req *sdk.ResourceRequest) ([]sdk.ResourceContents, error) {
			doc, err := t.readDocument(ctx, req.Caller, strings.TrimPrefix(req.URI, documentURIPrefix))
			if err != nil {
				return nil, err
			}
			return []sdk.ResourceContents{{URI: req.URI, MIMEType: "text/markdown", Text: "# " + doc.Title + "\n\n" + doc.Body}}, nil
		},
		Complete: t.completeID,
	}
}

// summarizePrompt embeds a document and asks for a summary.
func (t tools) summarizePrompt() sdk.Prompt {
	return sdk.Prompt{
		Name:        "summarize-document",
		Title:       "Summarize a document",
		Description: "Asks the model to summarize one of your organization's documents.",
		Arguments:   []sdk.PromptArgument{{Name: "id", Description: "the document id", Required: true}},
		Get: func(ctx context.Context, req *sdk.PromptRequest) (*sdk.PromptResult, error) {
			doc, err := t.readDocument(ctx, req.Caller, req.Arguments["id"])
			if err != nil {
				return nil, err
			}
			return &sdk.PromptResult{
				Description: "Summarize " + doc.Title,
				Messages: []sdk.PromptMessage{
					sdk.UserMessage(sdk.EmbeddedResource(documentURIPrefix+doc.ID, "text/markdown", "# "+doc.Title+"\n\n"+doc.Body)),
					sdk.UserMessage(sdk.Text("Summarize the document above in three short bullet points.")),
				},
			}, nil
		},
		Complete: t.completeID,
	}
}

// readDocument fetches a document for the caller's organization; a missing or
// foreign one is sdk.ErrNotFound.
func (t tools) readDocument(ctx context.Context, caller *sdk.Caller, id string) (Document, error) {
	if caller.OrganizationID == "" || id == "" {
		return Document{}, fmt.Errorf("document %q: %w", id, sdk.ErrNotFound)
	}
	doc, err := t.store.Get(ctx, caller.OrganizationID, id)
	if errors.Is(err, ErrNotFound) {
		return Document{}, fmt.Errorf("document %q: %w", id, sdk.ErrNotFound)
	}
	return doc, storageError(err)
}

// completeID suggests ids of the caller's newest documents that start with what
// was typed.
func (t tools) completeID(ctx context.Context, req *sdk.CompleteRequest) ([]string, error) {
	if req.Caller.OrganizationID == "" {
		return nil, nil
	}
	docs, err := t.store.List(ctx, req.Caller.OrganizationID, ListOptions{Limit: maxLimit})
	if err != nil {
		return nil, storageError(err)
	}
	var ids []string
	for _, d := range docs {
		if strings.HasPrefix(d.ID, req.Value) {
			ids = append(ids, d.ID)
		}
	}
	return ids, nil
}
