// Command testplugin is a plugin for the host's tests. Its behaviour is chosen by
// the TESTPLUGIN_MODE environment variable and by tool arguments, so one binary can
// play a healthy plugin, a crashing one, a hanging one, or a broken one.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/mcphost/mcphost/sdk"
)

var (
	active    atomic.Int64
	maxActive atomic.Int64
)

// Set with -ldflags -X to build variants that answer differently (hot-swap tests).
var (
	buildVersion = "1.0.0"
	extraTool    = ""
)

type echoIn struct {
	Text string `json:"text"`
}

type slowIn struct {
	Ms int `json:"ms"`
}

func main() {
	mode := os.Getenv("TESTPLUGIN_MODE")
	switch {
	case mode == "crash-at-start":
		fmt.Fprintln(os.Stderr, "testplugin: failing at start on purpose")
		os.Exit(3)
	case strings.HasPrefix(mode, "slow-start="): // takes a while before it is ready
		if d, err := time.ParseDuration(strings.TrimPrefix(mode, "slow-start=")); err == nil {
			time.Sleep(d)
		}
	case mode == "hold-start": // ready only once the test says so
		holdStart()
	case strings.HasPrefix(mode, "exit-after="): // a crash loop: up briefly, then gone
		if d, err := time.ParseDuration(strings.TrimPrefix(mode, "exit-after=")); err == nil {
			time.AfterFunc(d, func() { os.Exit(4) })
		}
	}
	version := os.Getenv("TESTPLUGIN_VERSION")
	if version == "" {
		version = buildVersion
	}
	if serveBroken(mode, version) {
		return
	}
	tools := []sdk.Tool{
		sdk.NewTool("echo", "Echoes text.", func(_ context.Context, _ *sdk.Request, in echoIn) (*sdk.Result, error) {
			return sdk.Text(version + ":" + in.Text), nil
		}),
		sdk.NewTool("slow", "Sleeps ms milliseconds; records a cancellation marker when cancelled.", slow),
		sdk.NewTool("big", "Returns a text of bytes bytes.", func(_ context.Context, _ *sdk.Request, in struct {
			Bytes int `json:"bytes"`
		}) (*sdk.Result, error) {
			return sdk.Text(strings.Repeat("x", in.Bytes)), nil
		}),
		sdk.NewTool("crash", "Exits the plugin process mid-call.", func(context.Context, *sdk.Request, struct{}) (*sdk.Result, error) {
			os.Exit(7)
			return nil, nil
		}),
		sdk.NewTool("panic", "Panics inside the handler.", func(context.Context, *sdk.Request, struct{}) (*sdk.Result, error) {
			panic("boom")
		}),
		sdk.NewTool("env", "Returns the plugin's environment variable names and selected values.", func(context.Context, *sdk.Request, struct{}) (*sdk.Result, error) {
			env := map[string]string{}
			for _, kv := range os.Environ() {
				k, v, _ := strings.Cut(kv, "=")
				env[k] = v
			}
			return sdk.Object(map[string]any{"env": env}), nil
		}),
		sdk.NewTool("fs", "Reads (op read) or writes (op write) path and reports what happened, and the plugin's uid.", func(_ context.Context, _ *sdk.Request, in struct {
			Op   string `json:"op"`
			Path string `json:"path"`
			Data string `json:"data"`
		}) (*sdk.Result, error) {
			out := map[string]any{"uid": os.Getuid()}
			var err error
			if in.Op == "write" {
				err = os.WriteFile(in.Path, []byte(in.Data), 0o600)
			} else {
				var b []byte
				b, err = os.ReadFile(in.Path)
				out["content"] = string(b)
			}
			out["ok"] = err == nil
			if err != nil {
				out["error"] = err.Error()
			}
			return sdk.Object(out), nil
		}),
		sdk.NewTool("ids", "Returns the call and request ids the plugin received.", func(_ context.Context, req *sdk.Request, _ struct{}) (*sdk.Result, error) {
			return sdk.Object(map[string]string{"call_id": req.CallID, "request_id": req.RequestID}), nil
		}),
		sdk.NewTool("trace", "Returns the trace context the call's context carries.", func(ctx context.Context, _ *sdk.Request, _ struct{}) (*sdk.Result, error) {
			return sdk.Object(spanOf(ctx)), nil
		}),
		sdk.NewTool("caller", "Returns the caller the plugin received.", func(_ context.Context, req *sdk.Request, _ struct{}) (*sdk.Result, error) {
			return sdk.Object(req.Caller), nil
		}),
		sdk.NewTool("progress", "Reports three progress steps and a log line.", func(ctx context.Context, req *sdk.Request, _ struct{}) (*sdk.Result, error) {
			for i := 1; i <= 3; i++ {
				if err := req.Progress(float64(i), 3, fmt.Sprintf("step %d", i)); err != nil {
					return nil, err
				}
			}
			if err := req.Log("info", map[string]any{"msg": "halfway"}); err != nil {
				return nil, err
			}
			return sdk.Text("done"), nil
		}),
		sdk.NewTool("content", "Returns one block of every content kind.", func(context.Context, *sdk.Request, struct{}) (*sdk.Result, error) {
			return sdk.Mix(
				sdk.Text("text"),
				sdk.Image([]byte{0x89, 'P', 'N', 'G'}, "image/png"),
				sdk.Audio([]byte{'R', 'I', 'F', 'F'}, "audio/wav"),
				sdk.EmbeddedResource("test://doc", "text/plain", "embedded"),
				sdk.ResourceLink("test://link", "link", "a link", "text/plain"),
				sdk.Object(map[string]int{"n": 1}),
			), nil
		}),
		sdk.NewTool("max-active", "Reports the most calls of slow that ran at once.", func(context.Context, *sdk.Request, struct{}) (*sdk.Result, error) {
			return sdk.Object(map[string]int64{"max_active": maxActive.Load()}), nil
		}),
	}
	if extraTool != "" {
		tools = append(tools, sdk.NewTool(extraTool, "Exists only in some builds.", func(context.Context, *sdk.Request, struct{}) (*sdk.Result, error) {
			return sdk.Text(extraTool), nil
		}))
	}
	tools = append(tools,
		sdk.NewTool("ask-llm", "Asks the client's model (sampling) and returns its answer.", func(ctx context.Context, req *sdk.Request, in echoIn) (*sdk.Result, error) {
			res, err := req.Sample(ctx, sdk.SamplingRequest{Messages: []sdk.SamplingMessage{{Role: "user", Text: in.Text}}, MaxTokens: 50})
			if err != nil {
				return sdk.Errorf("sampling failed: %v", err), nil
			}
			return sdk.Textf("model %s said: %s", res.Model, res.Text), nil
		}),
		sdk.NewTool("ask-user", "Asks the user for a name (elicitation).", func(ctx context.Context, req *sdk.Request, _ struct{}) (*sdk.Result, error) {
			res, err := req.Elicit(ctx, "What is your name?", map[string]any{
				"type":       "object",
				"properties": map[string]any{"name": map[string]any{"type": "string"}},
				"required":   []string{"name"},
			})
			if err != nil {
				return sdk.Errorf("elicitation failed: %v", err), nil
			}
			return sdk.Textf("%s: %v", res.Action, res.Content["name"]), nil
		}),
		sdk.NewTool("ask-llm-many", "Asks the client's model six questions at once and counts the answers.", func(ctx context.Context, req *sdk.Request, _ struct{}) (*sdk.Result, error) {
			var mu sync.Mutex
			var wg sync.WaitGroup
			answered, refused := 0, 0
			for i := 0; i < 6; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := req.Sample(ctx, sdk.SamplingRequest{Messages: []sdk.SamplingMessage{{Role: "user", Text: "q"}}, MaxTokens: 5})
					mu.Lock()
					defer mu.Unlock()
					if err != nil {
						refused++
						if refused == 2 { // tells the test client it may answer now
							_ = req.Log("info", "refused=2")
						}
					} else {
						answered++
					}
				}()
			}
			wg.Wait()
			return sdk.Textf("answered=%d refused=%d", answered, refused), nil
		}),
		sdk.NewTool("touch", "Announces that test://counter changed.", func(context.Context, *sdk.Request, struct{}) (*sdk.Result, error) {
			sdk.NotifyResourceUpdated("test://counter")
			return sdk.Text("touched"), nil
		}),
	)
	p := sdk.Plugin{Name: "testplugin", Version: version, Tools: tools}
	// Resources and prompts are opt-in: URIs cannot be prefixed, so two copies of
	// this plugin in one host would collide on them.
	if os.Getenv("TESTPLUGIN_FEATURES") != "" {
		addFeatures(&p)
	}
	sdk.Serve(p)
}

// spanOf is the span context a handler's ctx carries, as the trace tests
// compare it with the host's spans.
func spanOf(ctx context.Context) map[string]any {
	sc := trace.SpanContextFromContext(ctx)
	return map[string]any{"valid": sc.IsValid(), "trace_id": sc.TraceID().String(), "span_id": sc.SpanID().String(), "sampled": sc.IsSampled(), "remote": sc.IsRemote()}
}

func addFeatures(p *sdk.Plugin) {
	p.Resources = []sdk.Resource{{
		URI: "test://counter", Name: "counter", Description: "A text resource.", MIMEType: "text/plain",
		Read: func(_ context.Context, req *sdk.ResourceRequest) ([]sdk.ResourceContents, error) {
			return []sdk.ResourceContents{{URI: req.URI, MIMEType: "text/plain", Text: "count for " + req.Caller.UserID}}, nil
		},
	}}
	p.ResourceTemplates = []sdk.ResourceTemplate{{
		URITemplate: "test://items/{id}", Name: "item", Description: "Items by id.", MIMEType: "application/json",
		Read: func(ctx context.Context, req *sdk.ResourceRequest) ([]sdk.ResourceContents, error) {
			id := strings.TrimPrefix(req.URI, "test://items/")
			if id == "missing" {
				return nil, sdk.ErrNotFound
			}
			if id == "trace" {
				b, _ := json.Marshal(spanOf(ctx))
				return []sdk.ResourceContents{{URI: req.URI, MIMEType: "application/json", Text: string(b)}}, nil
			}
			return []sdk.ResourceContents{{URI: req.URI, MIMEType: "application/json", Text: `{"id":"` + id + `"}`}}, nil
		},
		Complete: func(_ context.Context, req *sdk.CompleteRequest) ([]string, error) {
			return []string{req.Value + "1", req.Value + "2"}, nil
		},
	}}
	p.Prompts = []sdk.Prompt{{
		Name: "greet", Description: "Greets someone.",
		Arguments: []sdk.PromptArgument{{Name: "who", Required: true}},
		Get: func(_ context.Context, req *sdk.PromptRequest) (*sdk.PromptResult, error) {
			return &sdk.PromptResult{Description: "a greeting", Messages: []sdk.PromptMessage{
				sdk.UserMessage(sdk.Text("Say hello to " + req.Arguments["who"])),
				sdk.AssistantMessage(sdk.Mix(sdk.Text("Hello!"), sdk.Image([]byte{1}, "image/png"))),
			}}, nil
		},
		Complete: func(_ context.Context, req *sdk.CompleteRequest) ([]string, error) {
			var out []string
			for _, n := range []string{"alice", "albert", "bob"} {
				if strings.HasPrefix(n, req.Value) {
					out = append(out, n)
				}
			}
			return out, nil
		},
	}}
}

func slow(ctx context.Context, req *sdk.Request, in slowIn) (*sdk.Result, error) {
	announce("slow " + req.CallID)
	n := active.Add(1)
	defer active.Add(-1)
	for {
		m := maxActive.Load()
		if n <= m || maxActive.CompareAndSwap(m, n) {
			break
		}
	}
	select {
	case <-time.After(time.Duration(in.Ms) * time.Millisecond):
		return sdk.Text("slept"), nil
	case <-ctx.Done():
		if dir := os.Getenv("TESTPLUGIN_DIR"); dir != "" {
			_ = os.WriteFile(filepath.Join(dir, "cancelled-"+req.CallID), []byte(ctx.Err().Error()), 0o644)
		}
		return nil, ctx.Err()
	}
}

// announce tells a test that something began (a call is in flight): one line
// on the FIFO calls.fifo in TESTPLUGIN_DIR, when the test made one and reads it.
func announce(what string) {
	dir := os.Getenv("TESTPLUGIN_DIR")
	if dir == "" {
		return
	}
	// Non-blocking: with no FIFO, or nobody reading it, there is no one to tell.
	f, err := os.OpenFile(filepath.Join(dir, "calls.fifo"), os.O_WRONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return
	}
	defer f.Close()
	_, _ = f.WriteString(what + "\n")
}

// holdStart waits for a line on the FIFO hold.fifo in TESTPLUGIN_DIR: the
// test decides when this plugin's start may go on.
func holdStart() {
	f, err := os.Open(filepath.Join(os.Getenv("TESTPLUGIN_DIR"), "hold.fifo"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "testplugin: hold-start:", err)
		os.Exit(5)
	}
	defer f.Close()
	_, _ = f.Read(make([]byte, 1))
}
