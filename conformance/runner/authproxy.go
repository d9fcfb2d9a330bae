package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"
)

// authProxy stands in front of `mcphost dev` for the auth-gate run: the suite
// cannot send an Authorization header, so the proxy adds a dev-issuer token to
// every request. It keeps the client's Host header, so mcphost sees exactly the
// Host (and Origin) the suite sent: the dns-rebinding scenario's evil Host still
// reaches mcphost's checks. Responses (SSE included) are streamed through as they
// come.
type authProxy struct {
	Addr string
	srv  *http.Server
}

// maxProxyBody bounds a buffered request body (mcphost's own default limit is 4 MiB).
const maxProxyBody = 16 << 20

func startAuthProxy(target, token string) (*authProxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(u)
			r.Out.Host = r.In.Host // SetURL replaced it with the target's
			r.Out.Header.Set("Authorization", "Bearer "+token)
		},
		FlushInterval: -1, // flush every write: SSE events must not wait in a buffer
	}
	// The request body is read completely before it is forwarded. Streamed, it
	// races: mcphost answers a POST with SSE headers and a priming event as soon
	// as it has parsed the body, the proxy relays those headers, and Go's HTTP/1
	// server then discards and closes the incoming body while the transport is
	// still reading it for its end. That write error makes the transport drop
	// the upstream connection, so mcphost sees its client gone and ends the
	// request (for an initialize: a session that closes before it answers).
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxProxyBody))
		if err != nil {
			http.Error(w, "auth proxy: reading the request body: "+err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		rp.ServeHTTP(w, r)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &authProxy{Addr: ln.Addr().String(), srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

// Close stops the proxy, dropping open streams.
func (p *authProxy) Close() { _ = p.srv.Close() }
