// Package requestid gives every HTTP request an id: the X-Request-Id a trusted
// proxy sent, else a new one. The id is echoed in the response header and
// carried in the request's context, so log lines, audit records and plugin
// calls of one request can be correlated.
package requestid

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"log/slog"
	"net/http"
	"net/netip"

	"github.com/mcphost/mcphost/auth"
)

// Header is the request and response header.
const Header = "X-Request-Id"

// maxLen bounds an incoming id; longer or oddly spelled ones are replaced.
const maxLen = 128

type ctxKey struct{}

// With returns ctx carrying id.
func With(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// FromContext returns the request id in ctx, or "".
func FromContext(ctx context.Context) string {
	id, _ := ctx.Value(ctxKey{}).(string)
	return id
}

// New returns a fresh id: 80 random bits, 16 characters.
func New() string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	return enc.EncodeToString(b[:])
}

var enc = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// Middleware assigns the id. An incoming X-Request-Id is honoured only from a
// peer in trusted (the proxies in front), since anyone else could make their
// requests look like another's in the logs.
func Middleware(trusted []netip.Prefix, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(Header)
		if id == "" || !valid(id) || !auth.PeerTrusted(r.RemoteAddr, trusted) {
			id = New()
		}
		w.Header().Set(Header, id)
		next.ServeHTTP(w, r.WithContext(With(r.Context(), id)))
	})
}

// valid accepts the characters ids are usually made of (UUIDs, hex, base32,
// W3C trace ids), so an id is safe in a header, a log line and a JSON string.
func valid(id string) bool {
	if len(id) > maxLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

// LogHandler adds the request id of the context a record is logged with
// (slog's *Context methods) to the record, so every line a request causes
// can be found by its id. Records that already name one keep theirs.
func LogHandler(next slog.Handler) slog.Handler { return logHandler{next} }

type logHandler struct{ next slog.Handler }

func (h logHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h logHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := FromContext(ctx); id != "" {
		named := false
		r.Attrs(func(a slog.Attr) bool {
			named = a.Key == "request_id"
			return !named
		})
		if !named {
			r = r.Clone()
			r.AddAttrs(slog.String("request_id", id))
		}
	}
	return h.next.Handle(ctx, r)
}

func (h logHandler) WithAttrs(as []slog.Attr) slog.Handler { return logHandler{h.next.WithAttrs(as)} }
func (h logHandler) WithGroup(name string) slog.Handler    { return logHandler{h.next.WithGroup(name)} }
