package host_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcphost/mcphost/host"
)

const featuresYAML = `
auth: {provider: none}
plugins:
  test: {path: "{{bin}}/testplugin", env: {TESTPLUGIN_FEATURES: "1"}}
`

func TestResourcesPromptsAndCompletions(t *testing.T) {
	r := startHost(t, featuresYAML, host.ServerOptions{Gate: headerGate{}})
	cs := connect(t, r, userClient("user_7", "org_a", ""), nil)
	ctx := context.Background()

	var kinds []string
	for _, e := range r.host.Catalog() {
		kinds = append(kinds, e.Kind+":"+e.Name)
	}
	if got := strings.Join(kinds, ","); !strings.Contains(got, "tool:echo,") || !strings.Contains(got, "prompt:greet,resource:test://counter,resource-template:test://items/{id}") {
		t.Errorf("catalog = %s", got)
	}
	init := cs.InitializeResult().Capabilities
	if init.Resources == nil || !init.Resources.Subscribe || init.Prompts == nil || init.Completions == nil {
		t.Fatalf("capabilities = %+v", init)
	}
	resources, err := cs.ListResources(ctx, nil)
	if err != nil || len(resources.Resources) != 1 || resources.Resources[0].URI != "test://counter" {
		t.Fatalf("resources/list = %+v, %v", resources, err)
	}
	templates, err := cs.ListResourceTemplates(ctx, nil)
	if err != nil || len(templates.ResourceTemplates) != 1 || templates.ResourceTemplates[0].URITemplate != "test://items/{id}" {
		t.Fatalf("resources/templates/list = %+v, %v", templates, err)
	}

	read, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: "test://counter"})
	if err != nil || read.Contents[0].Text != "count for user_7" {
		t.Fatalf("read counter = %+v, %v (the plugin must see the caller)", read, err)
	}
	read, err = cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: "test://items/42"})
	if err != nil || read.Contents[0].Text != `{"id":"42"}` || read.Contents[0].MIMEType != "application/json" {
		t.Fatalf("read template = %+v, %v", read, err)
	}
	for _, uri := range []string{"test://items/missing", "test://nothing-here"} {
		if _, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: uri}); err == nil || !strings.Contains(err.Error(), "not found") {
			t.Errorf("read %s: err = %v, want resource not found", uri, err)
		}
	}

	prompts, err := cs.ListPrompts(ctx, nil)
	if err != nil || len(prompts.Prompts) != 1 || prompts.Prompts[0].Arguments[0].Name != "who" || !prompts.Prompts[0].Arguments[0].Required {
		t.Fatalf("prompts/list = %+v, %v", prompts, err)
	}
	got, err := cs.GetPrompt(ctx, &mcp.GetPromptParams{Name: "greet", Arguments: map[string]string{"who": "Ada"}})
	if err != nil {
		t.Fatal(err)
	}
	var roles []string
	for _, m := range got.Messages {
		roles = append(roles, string(m.Role))
	}
	if len(got.Messages) != 3 || got.Messages[0].Content.(*mcp.TextContent).Text != "Say hello to Ada" || strings.Join(roles, ",") != "user,assistant,assistant" {
		t.Fatalf("prompts/get = %+v", got)
	}
	if _, ok := got.Messages[2].Content.(*mcp.ImageContent); !ok {
		t.Errorf("third message = %T, want image", got.Messages[2].Content)
	}
	if _, err := cs.GetPrompt(ctx, &mcp.GetPromptParams{Name: "greet"}); err == nil || !strings.Contains(err.Error(), `missing required argument "who"`) {
		t.Errorf("prompt without its required argument: %v", err)
	}
	_, missing := cs.GetPrompt(ctx, &mcp.GetPromptParams{Name: "nope"})
	if missing == nil || !strings.Contains(missing.Error(), `unknown prompt "nope"`) {
		t.Errorf("unknown prompt: %v", missing)
	}

	comp, err := cs.Complete(ctx, &mcp.CompleteParams{Ref: &mcp.CompleteReference{Type: "ref/prompt", Name: "greet"}, Argument: mcp.CompleteParamsArgument{Name: "who", Value: "al"}})
	if err != nil || strings.Join(comp.Completion.Values, ",") != "alice,albert" {
		t.Fatalf("complete prompt = %+v, %v", comp, err)
	}
	comp, err = cs.Complete(ctx, &mcp.CompleteParams{Ref: &mcp.CompleteReference{Type: "ref/resource", URI: "test://items/{id}"}, Argument: mcp.CompleteParamsArgument{Name: "id", Value: "7"}})
	if err != nil || strings.Join(comp.Completion.Values, ",") != "71,72" {
		t.Fatalf("complete template = %+v, %v", comp, err)
	}
}

func TestPolicyHidesResourcesAndPrompts(t *testing.T) {
	r := startHost(t, `
auth: {provider: none}
plugins:
  test: {path: "{{bin}}/testplugin", env: {TESTPLUGIN_FEATURES: "1"}, require_roles: [admin]}
`, host.ServerOptions{Gate: headerGate{}})
	ctx := context.Background()
	member := connect(t, r, userClient("pat", "org_a", "member"), nil)
	admin := connect(t, r, userClient("boss", "org_a", "admin"), nil)

	if res, _ := member.ListResources(ctx, nil); len(res.Resources) != 0 {
		t.Errorf("member sees resources %+v", res.Resources)
	}
	if res, _ := member.ListPrompts(ctx, nil); len(res.Prompts) != 0 {
		t.Errorf("member sees prompts %+v", res.Prompts)
	}
	if res, _ := member.ListResourceTemplates(ctx, nil); len(res.ResourceTemplates) != 0 {
		t.Errorf("member sees templates %+v", res.ResourceTemplates)
	}
	_, hidden := member.ReadResource(ctx, &mcp.ReadResourceParams{URI: "test://counter"})
	_, missing := member.ReadResource(ctx, &mcp.ReadResourceParams{URI: "test://absent"})
	if hidden == nil || missing == nil || strings.ReplaceAll(hidden.Error(), "test://counter", "X") != strings.ReplaceAll(missing.Error(), "test://absent", "X") {
		t.Errorf("hidden read %v vs missing read %v", hidden, missing)
	}
	if _, err := member.GetPrompt(ctx, &mcp.GetPromptParams{Name: "greet", Arguments: map[string]string{"who": "x"}}); err == nil || !strings.Contains(err.Error(), `unknown prompt "greet"`) {
		t.Errorf("hidden prompt: %v", err)
	}
	legacyMember := connectVersion(t, r, userClient("pat", "org_a", "member"), nil, legacy)
	if err := legacyMember.Subscribe(ctx, &mcp.SubscribeParams{URI: "test://counter"}); err == nil {
		t.Error("member could subscribe to a hidden resource")
	}
	if res, _ := admin.ListResources(ctx, nil); len(res.Resources) != 1 {
		t.Errorf("admin sees resources %+v", res.Resources)
	}
}

func TestSamplingAndElicitationThroughHost(t *testing.T) {
	r := startHost(t, featuresYAML, host.ServerOptions{})
	// Both eras: a server-to-client request on a legacy session, an
	// input-required round trip (the go-sdk client answers and retries) on 2026-07-28.
	for _, version := range []string{modern, legacy} {
		var sampled, elicited string
		cs := connectVersion(t, r, nil, &mcp.ClientOptions{
			CreateMessageHandler: func(_ context.Context, req *mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
				sampled = req.Params.Messages[0].Content.(*mcp.TextContent).Text
				return &mcp.CreateMessageResult{Role: "assistant", Model: "test-model", Content: &mcp.TextContent{Text: "42"}}, nil
			},
			ElicitationHandler: func(_ context.Context, req *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
				elicited = req.Params.Message
				return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"name": "Ada"}}, nil
			},
		}, version)
		if text, isErr := callText(t, cs, "ask-llm", map[string]any{"text": "meaning of life?"}); isErr || text != "model test-model said: 42" || sampled != "meaning of life?" {
			t.Fatalf("%s: ask-llm = %q (isError %v), client saw %q", version, text, isErr, sampled)
		}
		if text, isErr := callText(t, cs, "ask-user", nil); isErr || text != "accept: Ada" || elicited != "What is your name?" {
			t.Fatalf("%s: ask-user = %q (isError %v), client saw %q", version, text, isErr, elicited)
		}
	}
	// A client without sampling support: on a legacy session the tool gets an
	// error it can report; on 2026-07-28 the request fails with -32021
	// (MissingRequiredClientCapability), as the specification asks.
	plain := connectVersion(t, r, nil, nil, legacy)
	if text, isErr := callText(t, plain, "ask-llm", map[string]any{"text": "x"}); !isErr || !strings.Contains(text, "sampling failed") {
		t.Fatalf("ask-llm without client support = %q (isError %v)", text, isErr)
	}
	modernPlain := connectVersion(t, r, nil, nil, modern)
	_, err := modernPlain.CallTool(context.Background(), &mcp.CallToolParams{Name: "ask-llm", Arguments: map[string]any{"text": "x"}})
	if err == nil || !strings.Contains(err.Error(), "Missing required client capability") {
		t.Fatalf("2026-07-28 ask-llm without client support: %v, want a -32021 error", err)
	}
}

// TestClientRequestsPerCallAreBounded: one call may have only so many
// questions open to the client at once; the rest are refused to the plugin.
func TestClientRequestsPerCallAreBounded(t *testing.T) {
	r := startHost(t, featuresYAML, host.ServerOptions{})
	// The client holds every question until the plugin reports (by a log line)
	// that two of its six were refused, so four are open at once for sure.
	release := make(chan struct{})
	var once sync.Once
	// A legacy session, where questions stay open while the client answers.
	cs := connectVersion(t, r, nil, &mcp.ClientOptions{
		CreateMessageHandler: func(ctx context.Context, _ *mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
			select {
			case <-release:
			case <-time.After(20 * time.Second):
			}
			return &mcp.CreateMessageResult{Role: "assistant", Model: "m", Content: &mcp.TextContent{Text: "a"}}, nil
		},
		LoggingMessageHandler: func(_ context.Context, req *mcp.LoggingMessageRequest) {
			if req.Params.Data == "refused=2" {
				once.Do(func() { close(release) })
			}
		},
	}, legacy)
	if err := cs.SetLoggingLevel(context.Background(), &mcp.SetLoggingLevelParams{Level: "info"}); err != nil {
		t.Fatal(err)
	}
	text, isErr := callText(t, cs, "ask-llm-many", nil)
	if isErr || text != "answered=4 refused=2" {
		t.Fatalf("ask-llm-many = %q (isError %v), want 4 answered and 2 refused", text, isErr)
	}
}

func TestResourceUpdatedReachesSubscriber(t *testing.T) {
	r := startHost(t, featuresYAML, host.ServerOptions{})
	updated := make(chan string, 4)
	cs := connect(t, r, nil, &mcp.ClientOptions{
		ResourceUpdatedHandler: func(_ context.Context, req *mcp.ResourceUpdatedNotificationRequest) { updated <- req.Params.URI },
	})
	ctx := context.Background()
	if err := cs.Subscribe(ctx, &mcp.SubscribeParams{URI: "test://counter"}); err != nil {
		t.Fatal(err)
	}
	// On 2026-07-28 updates travel on the client's subscriptions/listen
	// stream, which may not be open yet when the first change is announced:
	// announce until one arrives (each touch is a new change).
	deadline := time.After(10 * time.Second)
	for announced := false; !announced; {
		callText(t, cs, "touch", nil)
		select {
		case uri := <-updated:
			if uri != "test://counter" {
				t.Fatalf("updated %s", uri)
			}
			announced = true
		case <-time.After(200 * time.Millisecond):
		case <-deadline:
			t.Fatal("no notifications/resources/updated after the plugin announced a change")
		}
	}
	// Drain updates of touches that raced the first delivery.
	for drained := false; !drained; {
		select {
		case <-updated:
		case <-time.After(300 * time.Millisecond):
			drained = true
		}
	}
	if err := cs.Unsubscribe(ctx, &mcp.UnsubscribeParams{URI: "test://counter"}); err != nil {
		t.Fatal(err)
	}
	callText(t, cs, "touch", nil)
	select {
	case uri := <-updated:
		t.Fatalf("update for %s after unsubscribing", uri)
	case <-time.After(300 * time.Millisecond):
	}
}

// A stateless legacy server has no session to ask the client on; a 2026-07-28
// client is asked with an input-required round trip, so it works there too.
func TestStatelessCannotAskLegacyClient(t *testing.T) {
	r := startHost(t, `
server: {stateless: true}
auth: {provider: none}
plugins:
  test: {path: "{{bin}}/testplugin", env: {TESTPLUGIN_FEATURES: "1"}}
`, host.ServerOptions{})
	opts := &mcp.ClientOptions{
		CreateMessageHandler: func(context.Context, *mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
			return &mcp.CreateMessageResult{Content: &mcp.TextContent{Text: "x"}}, nil
		},
	}
	cs := connectVersion(t, r, nil, opts, legacy)
	if text, isErr := callText(t, cs, "ask-llm", map[string]any{"text": "x"}); !isErr || !strings.Contains(text, "sampling failed") {
		t.Fatalf("stateless ask-llm = %q (isError %v), want a tool error", text, isErr)
	}
	if read, err := cs.ReadResource(context.Background(), &mcp.ReadResourceParams{URI: "test://counter"}); err != nil || read.Contents[0].Text != "count for " {
		t.Fatalf("stateless read = %+v, %v", read, err)
	}
	mc := connectVersion(t, r, nil, opts, modern)
	if text, isErr := callText(t, mc, "ask-llm", map[string]any{"text": "x"}); isErr || !strings.Contains(text, "said: x") {
		t.Fatalf("2026-07-28 ask-llm on a stateless server = %q (isError %v), want the model's answer", text, isErr)
	}
}

func TestBadResourceTemplateIsStartupError(t *testing.T) {
	cfg := loadConfig(t, `
auth: {provider: none}
plugins:
  bad: {path: "{{bin}}/testplugin", required: true, env: {TESTPLUGIN_FEATURES: "1", TESTPLUGIN_MODE: bad-template}}`)
	h := host.New(cfg, testLogger(t))
	err := h.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), `plugin bad: resource template "test://items/{id" is not a valid URI template`) {
		t.Fatalf("start: %v", err)
	}
}

func TestCORS(t *testing.T) {
	r := startHost(t, `
server: {allowed_origins: ["https://app.example.com"]}
auth: {provider: none}
plugins:
  whoami: {path: "{{bin}}/whoami"}`, host.ServerOptions{Gate: headerGate{}})
	preflight := func(origin string) *http.Response {
		req, _ := http.NewRequest(http.MethodOptions, r.url+host.MCPPath, nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization, mcp-session-id, mcp-protocol-version, content-type")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	ok := preflight("https://app.example.com")
	if ok.StatusCode != http.StatusNoContent || ok.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
		t.Fatalf("allowed preflight: %d %v", ok.StatusCode, ok.Header)
	}
	for _, h := range []string{"Authorization", "Mcp-Session-Id", "MCP-Protocol-Version"} {
		if !strings.Contains(ok.Header.Get("Access-Control-Allow-Headers"), h) {
			t.Errorf("Allow-Headers %q lacks %s", ok.Header.Get("Access-Control-Allow-Headers"), h)
		}
	}
	if bad := preflight("https://evil.example.com"); bad.StatusCode != http.StatusForbidden || bad.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("disallowed preflight: %d %v", bad.StatusCode, bad.Header)
	}
	// An actual request: the 401 from the gate is readable, headers exposed.
	req, _ := http.NewRequest(http.MethodPost, r.url+host.MCPPath, strings.NewReader(`{}`))
	req.Header.Set("Origin", "https://app.example.com")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	expose := resp.Header.Get("Access-Control-Expose-Headers")
	if resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" || !strings.Contains(expose, "Mcp-Session-Id") || !strings.Contains(expose, "WWW-Authenticate") {
		t.Fatalf("CORS on a real request: %v", resp.Header)
	}
}
