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
	"sync/atomic"
	"time"

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
		os.Exit(3)
	case strings.HasPrefix(mode, "exit-after="): // a crash loop: up briefly, then gone
		if d, err := time.ParseDuration(strings.TrimPrefix(mode, "exit-after=")); err == nil {
			time.AfterFunc(d, func() { os.Exit(4) })
		}
	}
	version := os.Getenv("TESTPLUGIN_VERSION")
	if version == "" {
		version = buildVersion
	}
	tools := []sdk.Tool{
		sdk.NewTool("echo", "Echoes text.", func(_ context.Context, _ *sdk.Request, in echoIn) (*sdk.Result, error) {
			return sdk.Text(version + ":" + in.Text), nil
		}),
		sdk.NewTool("slow", "Sleeps ms milliseconds; records a cancellation marker when cancelled.", slow),
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
	unreachable := func(context.Context, *sdk.Request, json.RawMessage) (*sdk.Result, error) {
		return sdk.Text("unreachable"), nil
	}
	switch mode {
	case "bad-schema":
		tools = append(tools, sdk.NewRawTool("broken", "Has a non-object input schema.", json.RawMessage(`{"type":"string"}`), unreachable))
	case "no-schema":
		tools = append(tools, sdk.NewRawTool("broken", "Has no input schema.", nil, unreachable))
	}
	sdk.Serve(sdk.Plugin{Name: "testplugin", Version: version, Tools: tools})
}

func slow(ctx context.Context, req *sdk.Request, in slowIn) (*sdk.Result, error) {
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
