package workos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
)

const (
	asMetadataPath   = "/.well-known/oauth-authorization-server"
	oidcMetadataPath = "/.well-known/openid-configuration"
	maxMetadataBytes = 1 << 20
	metadataTimeout  = 5 * time.Second
	// maxMetadataRetry bounds how long a failed upstream fetch suppresses new
	// attempts (each waiting request would otherwise pay the timeout).
	maxMetadataRetry = 30 * time.Second
	// loopHeader marks our own upstream metadata fetches. If one arrives here,
	// the issuer is this very server and fetching again would recurse.
	loopHeader = "Mcphost-Metadata-Fetch"
)

// metaEntry caches one upstream metadata document.
type metaEntry struct {
	upstream string
	fallback []byte

	mu        sync.Mutex
	body      []byte
	fetchedAt time.Time
	lastFail  time.Time
	inflight  *flight
}

func (p *Provider) initMetadata() {
	fb := map[string]any{
		"issuer":                                p.issuer,
		"authorization_endpoint":                p.issuer + "/oauth2/authorize",
		"token_endpoint":                        p.issuer + "/oauth2/token",
		"registration_endpoint":                 p.issuer + "/oauth2/register",
		"jwks_uri":                              p.issuer + "/oauth2/jwks",
		"response_types_supported":              []string{"code"},
		"grant_types_supported":                 []string{"authorization_code", "refresh_token"},
		"code_challenge_methods_supported":      []string{"S256"},
		"token_endpoint_auth_methods_supported": []string{"none", "client_secret_post", "client_secret_basic"},
		"scopes_supported":                      p.scopes,
	}
	asDoc, _ := json.Marshal(fb)
	// OpenID discovery additionally requires these two members.
	fb["subject_types_supported"] = []string{"public"}
	fb["id_token_signing_alg_values_supported"] = []string{"RS256"}
	oidcDoc, _ := json.Marshal(fb)
	p.meta = map[string]*metaEntry{
		asMetadataPath:   {upstream: p.issuer + asMetadataPath, fallback: asDoc},
		oidcMetadataPath: {upstream: p.issuer + oidcMetadataPath, fallback: oidcDoc},
	}
}

// RegisterDiscovery adds the public discovery routes to mux:
//   - RFC 9728 protected-resource metadata at /.well-known/oauth-protected-resource
//     and /.well-known/oauth-protected-resource<MCPPath>, naming AuthKit as the
//     authorization server;
//   - /.well-known/oauth-authorization-server and /.well-known/openid-configuration,
//     passed through from AuthKit for clients that look for them on the MCP
//     server's origin (cached, served stale on upstream errors, and replaced by
//     a built-in document of AuthKit's fixed endpoints if AuthKit never answered).
//
// All are CORS-open, since browser-based MCP clients fetch them cross-origin.
func (p *Provider) RegisterDiscovery(mux *http.ServeMux) {
	prm := publicRoute(p.serveProtectedResource)
	mux.Handle(prmPath, prm)
	if p.prmRoute() != prmPath {
		mux.Handle(p.prmRoute(), prm)
	}
	for path, e := range p.meta {
		mux.Handle(path, publicRoute(func(w http.ResponseWriter, r *http.Request) {
			p.serveASMetadata(w, r, e)
		}))
	}
}

// publicRoute wraps a read-only discovery handler with CORS and method handling.
func publicRoute(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hdr := w.Header()
		hdr.Set("Access-Control-Allow-Origin", "*")
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			h(w, r)
		case http.MethodOptions:
			hdr.Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
			hdr.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, MCP-Protocol-Version")
			hdr.Set("Access-Control-Max-Age", "86400")
			w.WriteHeader(http.StatusNoContent)
		default:
			hdr.Set("Allow", "GET, HEAD, OPTIONS")
			writeJSON(w, http.StatusMethodNotAllowed, []byte(`{"error":"method_not_allowed"}`))
		}
	})
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

type protectedResource struct {
	Resource               string   `json:"resource"`
	AuthorizationServers   []string `json:"authorization_servers"`
	ScopesSupported        []string `json:"scopes_supported,omitempty"`
	BearerMethodsSupported []string `json:"bearer_methods_supported"`
	ResourceName           string   `json:"resource_name,omitempty"`
}

func (p *Provider) serveProtectedResource(w http.ResponseWriter, r *http.Request) {
	body, _ := json.Marshal(protectedResource{
		Resource:               p.cfg.PublicURL.Origin(r) + p.cfg.MCPPath,
		AuthorizationServers:   []string{p.issuer},
		ScopesSupported:        p.scopes,
		BearerMethodsSupported: []string{"header"},
		ResourceName:           p.cfg.ResourceName,
	})
	// It may name a forwarded host, so no shared cache may keep it.
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, body)
}

func (p *Provider) serveASMetadata(w http.ResponseWriter, r *http.Request, e *metaEntry) {
	if p.cfg.StaticMetadata != nil {
		body, err := json.Marshal(p.cfg.StaticMetadata)
		if err != nil {
			body = e.fallback
		}
		writeJSON(w, http.StatusOK, body)
		return
	}
	if r.Header.Get(loopHeader) != "" {
		e.mu.Lock()
		body := e.body
		e.mu.Unlock()
		if body == nil {
			writeJSON(w, http.StatusNotFound, []byte(`{"error":"not_found"}`))
			return
		}
		writeJSON(w, http.StatusOK, body)
		return
	}
	body := p.metadata(r.Context(), e)
	if body == nil {
		body = e.fallback
	}
	writeJSON(w, http.StatusOK, body)
}

// metadata returns the cached upstream document, fetching it when missing or
// stale. A stale copy is returned at once while one shared background fetch
// refreshes it; with nothing cached, callers wait for that shared fetch. nil
// means upstream has never answered.
func (p *Provider) metadata(ctx context.Context, e *metaEntry) []byte {
	now := p.cfg.Now()
	e.mu.Lock()
	body := e.body
	if body != nil && now.Sub(e.fetchedAt) < p.cfg.MetadataTTL {
		e.mu.Unlock()
		return body
	}
	f := e.inflight
	retry := min(p.cfg.MetadataTTL, maxMetadataRetry)
	if f == nil && (e.lastFail.IsZero() || now.Sub(e.lastFail) >= retry) {
		f = &flight{done: make(chan struct{})}
		e.inflight = f
		// Not tracked by Close: it is bounded by metadataTimeout and by the
		// background context that Close cancels.
		go func() {
			b, err := p.fetchMetadata(e.upstream)
			e.mu.Lock()
			if err != nil {
				e.lastFail = p.cfg.Now()
				serving := "built-in fallback"
				if e.body != nil {
					serving = "stale copy"
				}
				p.cfg.Logger.Warn("workos: authorization server metadata fetch failed", "url", e.upstream, "error", err, "serving", serving)
			} else {
				e.body, e.fetchedAt, e.lastFail = b, p.cfg.Now(), time.Time{}
			}
			e.inflight = nil
			e.mu.Unlock()
			close(f.done)
		}()
	}
	e.mu.Unlock()
	if body != nil || f == nil {
		return body
	}
	select {
	case <-f.done:
	case <-ctx.Done():
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.body
}

// fetchMetadata GETs an upstream metadata document. It must be a JSON object;
// it is passed through byte for byte so members we do not know survive.
func (p *Provider) fetchMetadata(url string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(p.bg, metadataTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set(loopHeader, "1")
	resp, err := p.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("unexpected status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxMetadataBytes+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxMetadataBytes {
		return nil, fmt.Errorf("document larger than %d bytes", maxMetadataBytes)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil || obj == nil {
		return nil, fmt.Errorf("document is not a JSON object")
	}
	var iss string
	if json.Unmarshal(obj["issuer"], &iss) == nil && iss != p.issuer {
		p.cfg.Logger.Warn("workos: upstream metadata names a different issuer", "url", url, "issuer", iss, "expected", p.issuer)
	}
	return bytes.TrimSpace(body), nil
}
