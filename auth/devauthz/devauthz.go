// Package devauthz is the OAuth 2.1 authorization server of `mcphost dev`: a
// small but complete one, so MCP clients that do OAuth on their own (MCP
// Inspector, mcp-remote, the TypeScript SDK) can sign in to a dev server with
// no WorkOS account. It serves RFC 8414 metadata, dynamic client registration
// (RFC 7591), Client ID Metadata Documents, the authorization code grant with
// PKCE S256 only, `resource` (RFC 8707) bound into the token's `aud`, a login
// page where the developer picks a demo user, rotating refresh tokens, and
// `iss` in the authorization response (RFC 9207). Access tokens are the same
// JWTs `mcphost token` mints.
//
// Everything lives in memory: a restart forgets clients, codes and refresh
// tokens (clients register again). It is for loopback dev servers only, which
// config validation enforces for auth.provider dev.
package devauthz

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mcphost/mcphost/auth/devissuer"
)

// Paths of the endpoints, under the issuer URL.
const (
	AuthorizePath = "/oauth2/authorize"
	TokenPath     = "/oauth2/token"
	RegisterPath  = "/oauth2/register"
)

// Lifetimes and bounds. The bounds keep a dev server's memory flat whatever a
// client does.
const (
	codeTTL         = time.Minute
	pendingTTL      = 10 * time.Minute
	accessTTL       = time.Hour
	refreshTTL      = 30 * 24 * time.Hour
	cimdTTL         = 5 * time.Minute
	maxClients      = 1000
	maxPending      = 1000
	maxCodes        = 1000
	maxRefresh      = 10000
	maxBodyBytes    = 64 << 10
	maxRedirectURIs = 10
)

// SupportedScopes are the scopes clients may ask for (those AuthKit offers).
var SupportedScopes = []string{"openid", "profile", "email", "offline_access"}

// User is a demo user the login page offers.
type User struct {
	ID, Email, Name, Org string
	Roles, Permissions   []string
}

// DefaultUsers are offered when the config lists none: an admin who may write
// documents, a member of the same organization, and a member of another.
var DefaultUsers = []User{
	{ID: "user_alice", Email: "alice@example.com", Name: "Alice Dev", Org: "org_demo_acme", Roles: []string{"admin"}, Permissions: []string{"documents:write"}},
	{ID: "user_carol", Email: "carol@example.com", Name: "Carol Dev", Org: "org_demo_acme", Roles: []string{"member"}},
	{ID: "user_bob", Email: "bob@example.com", Name: "Bob Dev", Org: "org_demo_globex", Roles: []string{"member"}},
}

// Config configures a Server.
type Config struct {
	Issuer *devissuer.Issuer
	// IssuerURL is the origin tokens name in `iss`, e.g. http://127.0.0.1:8080.
	IssuerURL string
	// Audiences are the resources a token may be issued for; the first is the
	// default when a client names none.
	Audiences []string
	Users     []User // default DefaultUsers
	// HTTPClient fetches Client ID Metadata Documents. Default: 5s timeout.
	HTTPClient *http.Client
	Logger     *slog.Logger
	Now        func() time.Time
}

// Server is the authorization server. Its state is guarded by mu.
type Server struct {
	cfg    Config
	issuer string

	mu      sync.Mutex
	clients map[string]*client      // registered and fetched (CIMD) clients
	pending map[string]*authRequest // shown login pages awaiting a choice
	codes   map[string]*grant       // authorization codes
	refresh map[string]*grant       // refresh tokens
}

// New returns a Server for cfg.
func New(cfg Config) (*Server, error) {
	if cfg.Issuer == nil || cfg.IssuerURL == "" {
		return nil, errors.New("devauthz: the issuer and its URL are required")
	}
	if len(cfg.Audiences) == 0 {
		return nil, errors.New("devauthz: at least one audience (the MCP URL) is required")
	}
	if len(cfg.Users) == 0 {
		cfg.Users = DefaultUsers
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
			return errors.New("a client metadata document must not redirect")
		}}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Server{
		cfg: cfg, issuer: strings.TrimRight(cfg.IssuerURL, "/"),
		clients: map[string]*client{}, pending: map[string]*authRequest{},
		codes: map[string]*grant{}, refresh: map[string]*grant{},
	}, nil
}

// Metadata is the RFC 8414 authorization-server document.
func (s *Server) Metadata() map[string]any {
	m := devissuer.Metadata(s.issuer)
	m["authorization_endpoint"] = s.issuer + AuthorizePath
	m["token_endpoint"] = s.issuer + TokenPath
	m["registration_endpoint"] = s.issuer + RegisterPath
	m["scopes_supported"] = SupportedScopes
	m["response_types_supported"] = []string{"code"}
	m["response_modes_supported"] = []string{"query"}
	m["grant_types_supported"] = []string{"authorization_code", "refresh_token"}
	m["code_challenge_methods_supported"] = []string{"S256"}
	m["token_endpoint_auth_methods_supported"] = []string{"none", "client_secret_basic", "client_secret_post"}
	m["authorization_response_iss_parameter_supported"] = true
	m["client_id_metadata_document_supported"] = true
	return m
}

// Routes adds the authorize, token and registration endpoints to mux.
func (s *Server) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET "+AuthorizePath, s.authorize)
	mux.HandleFunc("POST "+AuthorizePath, s.decide)
	mux.Handle(TokenPath, cors(http.HandlerFunc(s.token), "POST"))
	mux.Handle(RegisterPath, cors(http.HandlerFunc(s.register), "POST"))
}

// cors lets browser-based clients (MCP Inspector runs in a page) call an
// endpoint. No cookies are involved, so any origin may.
func cors(next http.Handler, method string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		if r.Method == http.MethodOptions {
			w.Header().Set("Access-Control-Allow-Methods", method+", OPTIONS")
			w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Mcp-Protocol-Version")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if r.Method != method {
			w.Header().Set("Allow", method+", OPTIONS")
			oauthError(w, http.StatusMethodNotAllowed, "invalid_request", "use "+method)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// oauthError writes an RFC 6749 §5.2 error response.
func oauthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// secret returns n random bytes, base64url: codes, tokens, ids.
func secret(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// evictLocked keeps m under max entries: expired ones first, then any.
func evictLocked[V interface{ expired(time.Time) bool }](m map[string]V, max int, now time.Time) {
	if len(m) < max {
		return
	}
	for k, v := range m {
		if v.expired(now) {
			delete(m, k)
		}
	}
	for k := range m {
		if len(m) < max {
			return
		}
		delete(m, k)
	}
}

// scopesOK reports whether every scope asked for is supported.
func scopesOK(scopes []string) bool {
	for _, sc := range scopes {
		if !slices.Contains(SupportedScopes, sc) {
			return false
		}
	}
	return true
}

func (s *Server) user(id string) (User, bool) {
	for _, u := range s.cfg.Users {
		if u.ID == id {
			return u, true
		}
	}
	return User{}, false
}
