package supervisor

import (
	"context"
	"io"
	"log"
	"log/slog"
	"strings"

	"github.com/hashicorp/go-hclog"
)

// hclogAdapter sends go-plugin's hclog output (its own messages and every JSON log
// line a plugin writes to stderr) into the host's slog logger, which the slot
// has tagged with the plugin's name.
type hclogAdapter struct {
	l     *slog.Logger
	name  string
	args  []any
	level hclog.Level
}

func newHCLogAdapter(l *slog.Logger) hclog.Logger {
	return &hclogAdapter{l: l, level: hclog.Trace}
}

func toSlogLevel(level hclog.Level) slog.Level {
	switch level {
	case hclog.Trace, hclog.Debug:
		return slog.LevelDebug
	case hclog.Info, hclog.NoLevel, hclog.DefaultLevel:
		return slog.LevelInfo
	case hclog.Warn:
		return slog.LevelWarn
	default:
		return slog.LevelError
	}
}

func (a *hclogAdapter) Log(level hclog.Level, msg string, args ...any) {
	if level < a.level || level == hclog.Off {
		return
	}
	ctx := context.Background()
	sl := toSlogLevel(level)
	switch msg {
	case "plugin process exited":
		sl = slog.LevelDebug // the supervisor reports exits it did not ask for, at warn
	case "plugin failed to exit gracefully":
		sl = slog.LevelDebug // said of every plugin that died first; stop kills its group anyway
	}
	if !a.l.Enabled(ctx, sl) {
		return
	}
	all := append(append([]any{}, a.args...), args...)
	for i := 0; i+1 < len(all); i += 2 {
		if all[i] == "plugin" { // go-plugin's own key holds the binary path
			all[i] = "binary"
		}
	}
	if len(all)%2 == 1 { // hclog tolerates a dangling value; slog would mislabel it
		all = append(all[:len(all)-1], "extra", all[len(all)-1])
	}
	if a.name != "" {
		all = append(all, "logger", a.name)
	}
	a.l.Log(ctx, sl, msg, all...)
}

func (a *hclogAdapter) Trace(msg string, args ...any) { a.Log(hclog.Trace, msg, args...) }
func (a *hclogAdapter) Debug(msg string, args ...any) { a.Log(hclog.Debug, msg, args...) }
func (a *hclogAdapter) Info(msg string, args ...any)  { a.Log(hclog.Info, msg, args...) }
func (a *hclogAdapter) Warn(msg string, args ...any)  { a.Log(hclog.Warn, msg, args...) }
func (a *hclogAdapter) Error(msg string, args ...any) { a.Log(hclog.Error, msg, args...) }

func (a *hclogAdapter) enabled(level hclog.Level) bool {
	return level >= a.level && a.l.Enabled(context.Background(), toSlogLevel(level))
}
func (a *hclogAdapter) IsTrace() bool { return a.enabled(hclog.Trace) }
func (a *hclogAdapter) IsDebug() bool { return a.enabled(hclog.Debug) }
func (a *hclogAdapter) IsInfo() bool  { return a.enabled(hclog.Info) }
func (a *hclogAdapter) IsWarn() bool  { return a.enabled(hclog.Warn) }
func (a *hclogAdapter) IsError() bool { return a.enabled(hclog.Error) }

func (a *hclogAdapter) ImpliedArgs() []any { return a.args }
func (a *hclogAdapter) With(args ...any) hclog.Logger {
	b := *a
	b.args = append(append([]any{}, a.args...), args...)
	return &b
}
func (a *hclogAdapter) Name() string { return a.name }
func (a *hclogAdapter) Named(name string) hclog.Logger {
	b := *a
	if b.name != "" {
		name = b.name + "." + name
	}
	b.name = name
	return &b
}
func (a *hclogAdapter) ResetNamed(name string) hclog.Logger {
	b := *a
	b.name = name
	return &b
}
func (a *hclogAdapter) SetLevel(level hclog.Level) { a.level = level }
func (a *hclogAdapter) GetLevel() hclog.Level      { return a.level }
func (a *hclogAdapter) StandardLogger(*hclog.StandardLoggerOptions) *log.Logger {
	return log.New(a.StandardWriter(nil), "", 0)
}
func (a *hclogAdapter) StandardWriter(*hclog.StandardLoggerOptions) io.Writer {
	return writerFunc(func(p []byte) (int, error) {
		a.Info(strings.TrimRight(string(p), "\n"))
		return len(p), nil
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
