package main

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/mcphost/mcphost/sdk"
)

func testDocumentResourceAndPromptAreTenantScoped(t *testing.T, s Store) {
	p := newPlugin(s)
	ctx := context.Background()
	author := &sdk.Caller{UserID: "u1", OrganizationID: "org_a", Permissions: []string{"documents:write"}}
	outsider := &sdk.Caller{UserID: "u2", OrganizationID: "org_b"}
	noOrg := &sdk.Caller{UserID: "u3"}
	doc := ok[Document](t, call(t, p, "create-document", author, `{"title":"Plan","body":"Ship it."}`))

	contents, err := p.ReadResource(ctx, "documents://"+doc.ID, author)
	if err != nil || len(contents) != 1 || contents[0].Text != "# Plan\n\nShip it." || contents[0].MIMEType != "text/markdown" {
		t.Fatalf("read own document = %+v, %v", contents, err)
	}
	msgs, err := p.GetPrompt(ctx, "summarize-document", map[string]string{"id": doc.ID}, author)
	if err != nil || len(msgs) != 2 || !strings.HasPrefix(msgs[0], "user: [resource documents://"+doc.ID+"] # Plan") || !strings.Contains(msgs[1], "Summarize") {
		t.Fatalf("prompt = %q, %v", msgs, err)
	}

	for _, c := range []*sdk.Caller{outsider, noOrg} {
		if _, err := p.ReadResource(ctx, "documents://"+doc.ID, c); !errors.Is(err, sdk.ErrNotFound) {
			t.Errorf("%s read another tenant's document: %v", c.UserID, err)
		}
		// The prompt exists, so the answer is about the argument, and it reads
		// exactly like the answer for an id that never existed.
		_, foreign := p.GetPrompt(ctx, "summarize-document", map[string]string{"id": doc.ID}, c)
		_, made := p.GetPrompt(ctx, "summarize-document", map[string]string{"id": "doc_never"}, c)
		if foreign == nil || made == nil || strings.ReplaceAll(foreign.Error(), doc.ID, "X") != strings.ReplaceAll(made.Error(), "doc_never", "X") ||
			!strings.Contains(foreign.Error(), "not found") {
			t.Errorf("%s prompted with another tenant's document: %v (missing: %v)", c.UserID, foreign, made)
		}
	}
	for _, uri := range []string{"documents://", "documents://nope", "documents://' OR 1=1 --"} {
		if _, err := p.ReadResource(ctx, uri, author); !errors.Is(err, sdk.ErrNotFound) {
			t.Errorf("read %q: %v, want not found", uri, err)
		}
	}
	if _, err := p.GetPrompt(ctx, "summarize-document", nil, author); err == nil || !strings.Contains(err.Error(), `missing required argument "id"`) {
		t.Errorf("prompt without id: %v", err)
	}
}

func testDocumentIDCompletionIsTenantScoped(t *testing.T, store Store) {
	p := newPlugin(store)
	author := &sdk.Caller{UserID: "u1", OrganizationID: "org_a", Permissions: []string{"documents:write"}}
	doc := ok[Document](t, call(t, p, "create-document", author, `{"title":"A","body":"b"}`))
	tl := tools{store: store}
	ids, err := tl.completeID(context.Background(), &sdk.CompleteRequest{Argument: "id", Value: doc.ID[:6], Caller: author})
	if err != nil || len(ids) != 1 || ids[0] != doc.ID {
		t.Fatalf("completion for the owner = %v, %v", ids, err)
	}
	ids, err = tl.completeID(context.Background(), &sdk.CompleteRequest{Argument: "id", Value: "", Caller: &sdk.Caller{OrganizationID: "org_b"}})
	if err != nil || len(ids) != 0 {
		t.Fatalf("completion for another tenant = %v, %v", ids, err)
	}
}
