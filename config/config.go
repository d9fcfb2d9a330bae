// Package config loads and validates mcphost.yaml. Every problem is reported as one
// line naming the file, the key and what is wrong; a config that fails validation is
// never partly applied.
package config

import (
	"time"

	"github.com/mcphost/mcphost/auth/workos"
)

// Config is the whole mcphost configuration, with defaults applied and paths made
// absolute (relative paths are relative to the config file's directory).
type Config struct {
	// File is the absolute path of the config file; Dir its directory.
	File string `yaml:"-"`
	Dir  string `yaml:"-"`

	Server    Server    `yaml:"server"`
	Log       Log       `yaml:"log"`
	DataDir   string    `yaml:"data_dir"`
	Auth      Auth      `yaml:"auth"`
	HotReload HotReload `yaml:"hot_reload"`
	// PluginDir, when set, makes every executable in it a plugin named after its
	// file (settings under plugins.<name> still apply to it).
	PluginDir string             `yaml:"plugin_dir"`
	Plugins   map[string]*Plugin `yaml:"plugins"`
	Dev       Dev                `yaml:"dev"`
	Audit     Audit              `yaml:"audit"`
	Metrics   Metrics            `yaml:"metrics"`
	Limits    Limits             `yaml:"limits"`
	Tracing   Tracing            `yaml:"tracing"`
}

// Tracing configures OpenTelemetry traces, exported over OTLP. Off unless an
// endpoint is set here or in the standard OTEL_EXPORTER_OTLP_ENDPOINT /
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT variables (which also bring headers,
// timeouts and certificates: OTEL_EXPORTER_OTLP_HEADERS and the rest).
type Tracing struct {
	// OTLPEndpoint is a collector URL: http(s)://host:4318 for OTLP/HTTP
	// (the path defaults to /v1/traces), grpc://host:4317 for OTLP/gRPC.
	OTLPEndpoint string `yaml:"otlp_endpoint"`
	// OTLPProtocol is http/protobuf or grpc (empty: the scheme, else
	// OTEL_EXPORTER_OTLP_PROTOCOL, else http/protobuf).
	OTLPProtocol string `yaml:"otlp_protocol"`
	// SampleRatio is the share of new traces recorded, 0 < r <= 1 (default 1);
	// a request whose caller sampled its trace is always recorded.
	SampleRatio float64 `yaml:"sample_ratio"`
	// ServiceName is the service.name of the spans (default mcphost;
	// OTEL_SERVICE_NAME wins).
	ServiceName string `yaml:"service_name"`
}

// Limits caps how fast one user, and one organization, may call tools.
type Limits struct {
	PerUser Limit `yaml:"per_user"`
	PerOrg  Limit `yaml:"per_org"`
}

// Limit is a rate such as 10/s (or /m, /h) and a burst (default: one
// second's worth, at least 1). An empty Rate is no limit.
type Limit struct {
	Rate  string `yaml:"rate"`
	Burst int    `yaml:"burst"`
	// PerSecond is Rate parsed by config.Load.
	PerSecond float64 `yaml:"-"`
}

// Set reports whether the limit applies.
func (l Limit) Set() bool { return l.PerSecond > 0 }

// Metrics configures the Prometheus endpoint /metrics.
type Metrics struct {
	Enabled bool `yaml:"enabled"`
	// Listen, when set, serves /metrics on this address alone (a private
	// port) instead of the main listener.
	Listen string `yaml:"listen"`
	// Public serves the main listener's /metrics to any peer, not only
	// loopback ones.
	Public bool `yaml:"public"`
}

// Audit configures the audit log: a JSON line per MCP operation and refusal.
type Audit struct {
	Enabled bool `yaml:"enabled"`
	// Output is stdout, stderr or a file (relative to the config file's
	// directory; reopened on SIGHUP, for log rotation).
	Output string `yaml:"output"`
	// IncludeArguments keeps tool arguments in the records.
	IncludeArguments bool `yaml:"include_arguments"`
}

// Dev configures `mcphost dev` (auth.provider dev).
type Dev struct {
	// Users are the demo users its login page offers, keyed by user id (the
	// token's sub). None: a built-in set (see README).
	Users map[string]*DevUser `yaml:"users"`
}

// DevUser is one demo user of the dev login page.
type DevUser struct {
	Email       string   `yaml:"email"`
	Name        string   `yaml:"name"`
	Org         string   `yaml:"org"`
	Roles       []string `yaml:"roles"`
	Permissions []string `yaml:"permissions"`
}

// HotReload controls what the host watches while it serves.
type HotReload struct {
	// Plugins swaps a plugin when its binary changes on disk.
	Plugins bool `yaml:"plugins"`
	// Config re-applies the config file (and plugin_dir) when it changes.
	Config bool `yaml:"config"`
	// Debounce waits this long after the last file event before acting.
	Debounce time.Duration `yaml:"debounce"`
}

// Server configures the HTTP listener and the MCP transport.
type Server struct {
	Listen          string        `yaml:"listen"`
	PublicURL       string        `yaml:"public_url"`
	TrustedProxies  []string      `yaml:"trusted_proxies"`
	Stateless       bool          `yaml:"stateless"`
	JSONResponse    bool          `yaml:"json_response"`
	SessionTimeout  time.Duration `yaml:"session_timeout"`
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	MaxBodyBytes    int64         `yaml:"max_body_bytes"`
	// EventStore keeps recent SSE events so a client can resume a stream after a
	// disconnect (Last-Event-ID): "memory" (kept where server.store keeps
	// sessions) or "none".
	EventStore string `yaml:"event_store"`
	// ReadyRequires says which plugins must be running for /readyz to answer
	// ready: "required" (those with required: true) or "all".
	ReadyRequires string `yaml:"ready_requires"`
	// Store is where legacy sessions, their SSE events and the messages
	// between replicas live: "memory" (this process) or a Redis URL,
	// redis://[user:pass@]host:port/db or rediss:// for TLS, shared by every
	// replica so any of them serves any session.
	Store string `yaml:"store"`
	// AllowedOrigins lists browser origins allowed to call /mcp cross-origin
	// (CORS); "*" allows any. Empty: none.
	AllowedOrigins []string `yaml:"allowed_origins"`
	// StateSecret signs the request state of 2026-07-28 input-required round
	// trips (at least 32 bytes); replicas behind one load balancer must share
	// it. StateSecretFile names a file holding it instead. Neither: a random
	// secret per process (fine for one replica).
	StateSecret     string `yaml:"state_secret"`
	StateSecretFile string `yaml:"state_secret_file"`
	// RequestStateTTL bounds how long a client may take to answer an
	// input-required round (a person filling in a form).
	RequestStateTTL time.Duration `yaml:"request_state_ttl"`

	// Bounds against hostile load. ReadTimeout covers a request's headers and
	// body; WriteTimeout a plain response (event streams extend it per event);
	// IdleTimeout how long a keep-alive connection may wait for its next request.
	ReadTimeout  time.Duration `yaml:"read_timeout"`
	WriteTimeout time.Duration `yaml:"write_timeout"`
	IdleTimeout  time.Duration `yaml:"idle_timeout"`
	// MaxConnections caps open connections (also kept below the open-file
	// limit, so plugin restarts still get descriptors); MaxConnectionsPerIP
	// caps those of one TCP peer (an IPv6 /64), trusted proxies exempt.
	MaxConnections      int `yaml:"max_connections"`
	MaxConnectionsPerIP int `yaml:"max_connections_per_ip"`
	// MaxSessions caps legacy sessions in the store; MaxSessionsPerUser those
	// of one user (opening one more closes the user's least recently used).
	MaxSessions        int `yaml:"max_sessions"`
	MaxSessionsPerUser int `yaml:"max_sessions_per_user"`
	// MaxStreams and MaxStreamsPerUser cap the long-lived event streams (GET
	// streams, subscriptions/listen) open on this replica.
	MaxStreams        int `yaml:"max_streams"`
	MaxStreamsPerUser int `yaml:"max_streams_per_user"`
}

// Log configures the host's log output.
type Log struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
}

// Auth selects how callers are authenticated.
type Auth struct {
	// Provider is "workos", "dev" (the embedded dev issuer) or "none".
	Provider             string `yaml:"provider"`
	AllowUnauthenticated bool   `yaml:"allow_unauthenticated"`
	WorkOS               WorkOS `yaml:"workos"`
}

// WorkOS configures verification of WorkOS AuthKit access tokens.
type WorkOS struct {
	Subdomain       string        `yaml:"subdomain"`
	VerifyJWT       bool          `yaml:"verify_jwt"`
	ScopesSupported []string      `yaml:"scopes_supported"`
	Audiences       []string      `yaml:"audiences"`
	Algorithms      []string      `yaml:"algorithms"`
	ClockSkew       time.Duration `yaml:"clock_skew"`
	RequiredScopes  []string      `yaml:"required_scopes"`
	ResourceName    string        `yaml:"resource_name"`
	// APIKey (env WORKOS_API_KEY) turns on looking up the roles and
	// permissions of callers whose tokens carry none, from the WorkOS API at
	// APIURL (env WORKOS_API_BASE_URL); RolesTTL is how long a lookup is trusted.
	APIKey   string        `yaml:"api_key"`
	APIURL   string        `yaml:"api_url"`
	RolesTTL time.Duration `yaml:"roles_ttl"`
}

// Policy restricts who may see and call a tool. Empty means anyone the auth gate let
// in. A caller needs any one of RequireRoles, every one of RequirePermissions and
// RequireScopes, and an organization when RequireOrganization is set.
type Policy struct {
	RequireRoles        []string `yaml:"require_roles"`
	RequirePermissions  []string `yaml:"require_permissions"`
	RequireScopes       []string `yaml:"require_scopes"`
	RequireOrganization bool     `yaml:"require_organization"`
}

// Plugin configures one plugin executable.
type Plugin struct {
	// Name is the key under `plugins:`.
	Name string `yaml:"-"`
	// Path is the plugin binary (absolute after loading).
	Path string   `yaml:"path"`
	Args []string `yaml:"args"`
	// Env is the plugin's whole environment; values may use ${VAR} from the host's.
	Env map[string]string `yaml:"env"`
	// SHA256, when set, pins the binary: a different checksum refuses to start.
	SHA256 string `yaml:"sha256"`
	// Prefix is prepended to every tool name of this plugin.
	Prefix         string        `yaml:"prefix"`
	CallTimeout    time.Duration `yaml:"call_timeout"`
	MaxConcurrency int           `yaml:"max_concurrency"`
	StartTimeout   time.Duration `yaml:"start_timeout"`
	// DrainTimeout bounds how long a replaced instance may finish its calls.
	DrainTimeout time.Duration `yaml:"drain_timeout"`
	Policy       `yaml:",inline"`
	// Tools holds per-tool overrides, keyed by the tool's name in the plugin.
	Tools map[string]*Tool `yaml:"tools"`

	// Sandbox is "on" (also when empty: Landlock confines the plugin to its
	// executable, its data directory and read-only system paths) or "off".
	Sandbox string `yaml:"sandbox"`
	// Required makes the plugin's failure to start fatal (at startup the host
	// exits, a reload is refused); an optional plugin that cannot start is
	// marked failed and retried while the others serve.
	Required bool `yaml:"required"`
	// SandboxRead and SandboxWrite are more paths the sandboxed plugin may
	// read (and execute), or also write (absolute after loading).
	SandboxRead  []string `yaml:"sandbox_read"`
	SandboxWrite []string `yaml:"sandbox_write"`
	// User runs the plugin as this user (a name or a uid); the host must run
	// as root. RunAs is User resolved by Load (nil when User is empty).
	User  string   `yaml:"user"`
	RunAs *Account `yaml:"-"`
}

// Account is the user and primary group a plugin runs as.
type Account struct {
	UID, GID int
}

// Sandboxed reports whether the plugin runs in the sandbox (the default).
func (p *Plugin) Sandboxed() bool { return p.Sandbox != "off" }

// Tool holds per-tool settings; its policy adds to its plugin's.
type Tool struct {
	CallTimeout time.Duration `yaml:"call_timeout"`
	Policy      `yaml:",inline"`
	// Limits, when set, replace limits.per_user/per_org for calls to this tool.
	Limits Limits `yaml:"limits"`
}

// Defaults used when the config leaves a key out. Those of token verification
// (scopes, algorithms, clock skew) are auth/workos's.
const (
	DefaultListen          = "127.0.0.1:8080"
	DefaultCallTimeout     = 30 * time.Second
	DefaultMaxConcurrency  = 32
	DefaultStartTimeout    = 15 * time.Second
	DefaultDrainTimeout    = 30 * time.Second
	DefaultDebounce        = 300 * time.Millisecond
	DefaultShutdownTimeout = 15 * time.Second
	DefaultSessionTimeout  = 30 * time.Minute
	DefaultMaxBodyBytes    = 4 << 20
	DefaultRequestStateTTL = 15 * time.Minute
	DefaultDataDir         = ".mcphost"
	DefaultWorkOSAPIURL    = "https://api.workos.com"
	DefaultRolesTTL        = 5 * time.Minute

	DefaultReadTimeout         = 30 * time.Second
	DefaultWriteTimeout        = 30 * time.Second
	DefaultIdleTimeout         = 60 * time.Second
	DefaultMaxConnections      = 4096
	DefaultMaxConnectionsPerIP = 256
	DefaultMaxSessions         = 10000
	DefaultMaxSessionsPerUser  = 64
	DefaultMaxStreams          = 1024
	DefaultMaxStreamsPerUser   = 16
)

func defaults() *Config {
	return &Config{
		Server: Server{
			Listen:          DefaultListen,
			SessionTimeout:  DefaultSessionTimeout,
			ShutdownTimeout: DefaultShutdownTimeout,
			MaxBodyBytes:    DefaultMaxBodyBytes,
			EventStore:      "memory",
			ReadyRequires:   "required",
			Store:           "memory",
			RequestStateTTL: DefaultRequestStateTTL,

			ReadTimeout:         DefaultReadTimeout,
			WriteTimeout:        DefaultWriteTimeout,
			IdleTimeout:         DefaultIdleTimeout,
			MaxConnections:      DefaultMaxConnections,
			MaxConnectionsPerIP: DefaultMaxConnectionsPerIP,
			MaxSessions:         DefaultMaxSessions,
			MaxSessionsPerUser:  DefaultMaxSessionsPerUser,
			MaxStreams:          DefaultMaxStreams,
			MaxStreamsPerUser:   DefaultMaxStreamsPerUser,
		},
		Log:       Log{Level: "info", Format: "text"},
		DataDir:   DefaultDataDir,
		HotReload: HotReload{Plugins: true, Config: true, Debounce: DefaultDebounce},
		Audit:     Audit{Enabled: true, Output: "stdout"},
		Metrics:   Metrics{Enabled: true},
		Tracing:   Tracing{SampleRatio: 1, ServiceName: "mcphost"},
		Auth: Auth{
			Provider: "workos",
			WorkOS: WorkOS{
				VerifyJWT: true,
				// The verifier's own defaults, so there is one place to change them.
				ScopesSupported: workos.DefaultScopes(),
				Algorithms:      workos.DefaultAlgorithms(),
				ClockSkew:       workos.DefaultClockSkew,
				ResourceName:    "mcphost",
				APIURL:          DefaultWorkOSAPIURL,
				RolesTTL:        DefaultRolesTTL,
			},
		},
	}
}

func pluginDefaults(name string) *Plugin {
	return &Plugin{
		Name:           name,
		CallTimeout:    DefaultCallTimeout,
		MaxConcurrency: DefaultMaxConcurrency,
		StartTimeout:   DefaultStartTimeout,
		DrainTimeout:   DefaultDrainTimeout,
	}
}

// ToolTimeout is the call timeout for a tool of this plugin (its name in the plugin).
func (p *Plugin) ToolTimeout(tool string) time.Duration {
	if t := p.Tools[tool]; t != nil && t.CallTimeout > 0 {
		return t.CallTimeout
	}
	return p.CallTimeout
}

// ToolPolicies are the policies a call of tool (its name in the plugin) must all
// satisfy: the plugin's, then the tool's own. Keeping them separate means a tool
// can narrow its plugin's rule but never widen it.
func (p *Plugin) ToolPolicies(tool string) []Policy {
	out := []Policy{p.Policy}
	if t := p.Tools[tool]; t != nil {
		out = append(out, t.Policy)
	}
	return out
}
