package config

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mcphost/mcphost/auth"
	"github.com/mcphost/mcphost/auth/workos"
)

var (
	pluginNameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_-]{0,63}$`)
	prefixRE     = regexp.MustCompile(`^[a-zA-Z0-9_.-]{0,64}$`)
	envRefRE     = regexp.MustCompile(`\$\{([^}]*)\}`)
)

// validate checks every key and resolves paths and ${VAR} references in place.
func (l *loader) validate(c *Config, opts Options) {
	if _, err := ParseListen(c.Server.Listen); err != nil {
		l.report("server.listen", "%v", err)
	}
	if c.Server.PublicURL != "" {
		u, err := url.Parse(c.Server.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || strings.ContainsAny(c.Server.PublicURL, "?#") {
			l.report("server.public_url", "%q must be an absolute http(s) URL with no path, like https://mcp.example.com", c.Server.PublicURL)
		}
		c.Server.PublicURL = strings.TrimSuffix(c.Server.PublicURL, "/")
	}
	for i, p := range c.Server.TrustedProxies {
		// The parser serve uses (auth.PublicURL), so what passes here is what it trusts.
		if _, err := auth.ParsePrefixes([]string{p}); err != nil || strings.TrimSpace(p) != p {
			l.report(fmt.Sprintf("server.trusted_proxies[%d]", i), "%q is not an IP address or CIDR prefix", p)
		}
	}
	if c.Server.ShutdownTimeout <= 0 {
		l.report("server.shutdown_timeout", "must be greater than 0")
	}
	switch c.Server.EventStore {
	case "memory", "none":
	default:
		l.report("server.event_store", "%q is not one of memory, none", c.Server.EventStore)
	}
	switch c.Server.ReadyRequires {
	case "required", "all":
	default:
		l.report("server.ready_requires", "%q is not one of required, all", c.Server.ReadyRequires)
	}
	for i, o := range c.Server.AllowedOrigins {
		if o == "*" {
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			l.report(fmt.Sprintf("server.allowed_origins[%d]", i), "%q is not an origin like https://app.example.com (or *)", o)
		}
		c.Server.AllowedOrigins[i] = strings.TrimSuffix(o, "/")
	}
	if c.Server.MaxBodyBytes <= 0 {
		l.report("server.max_body_bytes", "must be greater than 0")
	}
	c.validateStateSecret(l)
	c.validateStore(l)
	c.validateServerBounds(l)
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		l.report("log.level", "%q is not one of debug, info, warn, error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		l.report("log.format", "%q is not one of text, json", c.Log.Format)
	}
	if c.DataDir == "" {
		l.report("data_dir", "must not be empty")
	} else {
		c.DataDir = c.abs(c.DataDir)
	}
	l.validateAuth(c)
	if c.HotReload.Debounce <= 0 {
		l.report("hot_reload.debounce", "must be greater than 0")
	}
	if c.PluginDir != "" {
		c.PluginDir = c.abs(c.PluginDir)
		l.scanPluginDir(c)
	}

	for _, name := range slices.Sorted(maps.Keys(c.Plugins)) {
		l.validatePlugin(c, c.Plugins[name], opts)
	}
}

func (l *loader) validateAuth(c *Config) {
	a := &c.Auth
	// A provider that failed to decode kept the default; its rules would only
	// add confusing problems.
	provider := a.Provider
	if l.failed["auth.provider"] {
		provider = "(unknown)"
	}
	// Loopback rules say nothing useful about a listen address already refused.
	nonLoopback := !l.failed["server.listen"] && !IsLoopbackListen(c.Server.Listen)
	switch provider {
	case "(unknown)":
	case "none":
		if nonLoopback && !a.AllowUnauthenticated {
			l.report("auth.provider", "none serves every caller unauthenticated, so it only listens on loopback; %s is not (set auth.allow_unauthenticated: true to accept that risk)", c.Server.Listen)
		}
	case "dev":
		if nonLoopback {
			l.report("auth.provider", "the dev issuer only serves on loopback (127.0.0.1, ::1 or localhost); %s is not", c.Server.Listen)
		}
	case "workos":
		if strings.TrimSpace(a.WorkOS.Subdomain) == "" {
			l.report("auth.workos.subdomain", "required with auth.provider workos: set it, or the MCP_USE_OAUTH_WORKOS_SUBDOMAIN environment variable, to your AuthKit domain (for example my-co.authkit.app)")
		} else if _, _, err := workos.NormalizeDomain(a.WorkOS.Subdomain); err != nil {
			// The same check serve makes, so validate refuses what serve would.
			l.report("auth.workos.subdomain", "%v", err)
		}
	default:
		l.report("auth.provider", "%q is not one of workos, dev, none", a.Provider)
	}
	if a.Provider == "workos" && strings.HasPrefix(strings.ToLower(strings.TrimSpace(a.WorkOS.Subdomain)), "http://") && nonLoopback {
		// Any local process that binds that port could serve keys and mint tokens.
		l.report("auth.workos.subdomain", "an http:// issuer is a local stand-in for AuthKit, so the server only listens on loopback; %s is not", c.Server.Listen)
	}
	unverified := a.Provider == "none" || (a.Provider == "workos" && !a.WorkOS.VerifyJWT)
	if i := slices.Index(c.Server.AllowedOrigins, "*"); unverified && i >= 0 {
		// Any web page the user visits could call tools as anyone.
		l.reportAt(fmt.Sprintf("server.allowed_origins[%d]", i), "server.allowed_origins", `"*" is refused while callers are not verified (auth.provider none or verify_jwt false); list the origins you trust`)
	}
	if !a.WorkOS.VerifyJWT && a.Provider == "workos" && nonLoopback {
		l.report("auth.workos.verify_jwt", "false accepts unverified tokens, so it only listens on loopback; %s is not", c.Server.Listen)
	}
	l.validateWorkOSToken(c)
	c.validateWorkOSAPI(l)
	l.validateLimits("limits", &c.Limits)
	if c.Metrics.Listen != "" {
		if _, err := ParseListen(c.Metrics.Listen); err != nil {
			l.report("metrics.listen", "%v", err)
		} else if c.Metrics.Listen == c.Server.Listen {
			l.report("metrics.listen", "is server.listen; leave it empty to serve /metrics there")
		}
	}
	c.validateTracing(l)
	switch out := strings.TrimSpace(c.Audit.Output); {
	case out == "":
		l.report("audit.output", "must be stdout, stderr or a file path")
	case out != "stdout" && out != "stderr":
		if !filepath.IsAbs(out) {
			c.Audit.Output = filepath.Join(c.Dir, out)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(c.Dev.Users)) {
		if id == "" || strings.ContainsAny(id, " \t\r\n") {
			l.reportAt("dev.users."+id, "dev.users", "user id %q must be non-empty without spaces (it becomes the token's sub)", id)
		}
	}
}

// validateWorkOSToken checks the keys that configure token verification, with
// the rules of the verifier itself (auth/workos), which serve builds from
// them for both auth.provider workos and dev.
func (l *loader) validateWorkOSToken(c *Config) {
	w := c.Auth.WorkOS
	if len(w.Algorithms) == 0 {
		l.report("auth.workos.algorithms", "must list at least one algorithm")
	}
	list := func(key string, items []string, check func(string) error) {
		for i, s := range items {
			if err := check(s); err != nil {
				l.report(fmt.Sprintf("%s[%d]", key, i), "%v", err)
			}
		}
	}
	list("auth.workos.algorithms", w.Algorithms, workos.CheckAlgorithm)
	list("auth.workos.audiences", w.Audiences, workos.CheckAudience)
	list("auth.workos.scopes_supported", w.ScopesSupported, workos.CheckScope)
	list("auth.workos.required_scopes", w.RequiredScopes, workos.CheckScope)
	if err := workos.CheckClockSkew(w.ClockSkew); err != nil {
		l.report("auth.workos.clock_skew", "%v", err)
	}
	if c.Auth.Provider == "dev" && c.Server.PublicURL != "" {
		// The dev issuer's URL is server.public_url: the verifier must accept it as an issuer.
		if _, _, err := workos.NormalizeDomain(c.Server.PublicURL); err != nil {
			l.report("server.public_url", "is the dev issuer's URL with auth.provider dev, and %v", err)
		}
	}
}

// validateTracing checks the tracing keys; nothing is dialled here.
func (c *Config) validateTracing(l *loader) {
	t := c.Tracing
	if t.OTLPEndpoint != "" {
		u, err := url.Parse(t.OTLPEndpoint)
		switch {
		case err != nil || u.Host == "":
			l.report("tracing.otlp_endpoint", "%q is not a URL such as http://collector:4318", t.OTLPEndpoint)
		case u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "grpc":
			l.report("tracing.otlp_endpoint", "%q: the scheme must be http, https (OTLP/HTTP) or grpc (OTLP/gRPC)", t.OTLPEndpoint)
		case u.Scheme == "grpc" && t.OTLPProtocol == "http/protobuf":
			l.report("tracing.otlp_protocol", "is http/protobuf but tracing.otlp_endpoint is a grpc:// URL")
		}
	}
	switch t.OTLPProtocol {
	case "", "http/protobuf", "grpc":
	default:
		l.report("tracing.otlp_protocol", "%q must be http/protobuf or grpc", t.OTLPProtocol)
	}
	if !(t.SampleRatio > 0 && t.SampleRatio <= 1) {
		l.report("tracing.sample_ratio", "%v must be more than 0 and at most 1", t.SampleRatio)
	}
}

// validateWorkOSAPI checks the keys of the roles lookup. The API key travels
// to api_url, so that must be https unless it is a loopback stand-in.
func (c *Config) validateWorkOSAPI(l *loader) {
	w := c.Auth.WorkOS
	u, err := url.Parse(w.APIURL)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || (u.Path != "" && u.Path != "/") || u.RawQuery != "":
		l.report("auth.workos.api_url", "%q is not an origin such as https://api.workos.com", w.APIURL)
	case u.Scheme == "http" && !isLoopbackHost(u.Hostname()):
		l.report("auth.workos.api_url", "http:// would send the API key in the clear; only a loopback stand-in may use it, %s is not", u.Host)
	}
	if w.RolesTTL < time.Second || w.RolesTTL > 24*time.Hour {
		l.report("auth.workos.roles_ttl", "%s is outside 1s to 24h", w.RolesTTL)
	}
	if w.APIKey != "" && strings.TrimSpace(w.APIKey) != w.APIKey {
		l.report("auth.workos.api_key", "has leading or trailing spaces (the value is not shown)")
	}
}

func (l *loader) validatePlugin(c *Config, p *Plugin, opts Options) {
	key := "plugins." + p.Name
	if !pluginNameRE.MatchString(p.Name) {
		l.report(key, "plugin name must be letters, digits, - or _ (at most 64)")
	}
	if p.Path == "" {
		l.report(key+".path", "required: the plugin binary, for example bin/plugins/%s", p.Name)
	} else {
		rel := p.Path
		p.Path = c.abs(p.Path)
		if !opts.SkipFileChecks {
			if st, err := os.Stat(p.Path); err != nil {
				l.report(key+".path", "binary %s not found (run make build)", rel)
			} else if st.IsDir() || st.Mode()&0o111 == 0 {
				l.report(key+".path", "%s is not an executable file", rel)
			}
		}
	}
	if p.SHA256 != "" {
		if b, err := hex.DecodeString(p.SHA256); err != nil || len(b) != 32 {
			l.report(key+".sha256", "must be 64 hex digits (the output of sha256sum)")
		}
		p.SHA256 = strings.ToLower(p.SHA256)
	}
	if !prefixRE.MatchString(p.Prefix) {
		l.report(key+".prefix", "%q may only hold letters, digits, _ - and .", p.Prefix)
	}
	if p.CallTimeout <= 0 {
		l.report(key+".call_timeout", "must be greater than 0")
	}
	if p.StartTimeout <= 0 {
		l.report(key+".start_timeout", "must be greater than 0")
	}
	if p.DrainTimeout <= 0 {
		l.report(key+".drain_timeout", "must be greater than 0")
	}
	if p.MaxConcurrency < 1 {
		l.report(key+".max_concurrency", "must be at least 1")
	}
	for _, name := range slices.Sorted(maps.Keys(p.Env)) {
		if !validEnvName(name) {
			l.report(key+".env."+name, "not a valid environment variable name")
			continue
		}
		p.Env[name] = l.expand(p.Env[name], key+".env."+name)
	}
	for _, name := range slices.Sorted(maps.Keys(p.Tools)) {
		if p.Tools[name] == nil {
			p.Tools[name] = &Tool{}
		}
		if p.Tools[name].CallTimeout < 0 {
			l.report(key+".tools."+name+".call_timeout", "must not be negative")
		}
		l.validateLimits(key+".tools."+name+".limits", &p.Tools[name].Limits)
	}
	l.validateSandbox(c, p, opts)
}

// validateLimits parses each rate ("10/s", "600/m", "1000/h") and fills in
// the default burst.
func (l *loader) validateLimits(key string, lim *Limits) {
	for _, x := range []struct {
		name string
		l    *Limit
	}{{"per_user", &lim.PerUser}, {"per_org", &lim.PerOrg}} {
		k := key + "." + x.name
		if x.l.Rate == "" {
			if x.l.Burst != 0 {
				l.report(k+".burst", "needs a rate (for example rate: 10/s)")
			}
			continue
		}
		n, unit, ok := strings.Cut(strings.ReplaceAll(x.l.Rate, " ", ""), "/")
		count, err := strconv.ParseFloat(n, 64)
		per := map[string]float64{"s": 1, "m": 60, "h": 3600}[unit]
		if !ok || err != nil || count <= 0 || per == 0 || math.IsInf(count, 0) {
			l.report(k+".rate", "%q is not a rate such as 10/s, 600/m or 1000/h", x.l.Rate)
			continue
		}
		x.l.PerSecond = count / per
		switch {
		case x.l.Burst < 0:
			l.report(k+".burst", "must not be negative")
		case x.l.Burst == 0:
			x.l.Burst = max(1, int(math.Ceil(x.l.PerSecond)))
		}
	}
}

// scanPluginDir adds every executable file in plugin_dir as a plugin named after
// the file. Hidden files and names that are not valid plugin names (foo.sh,
// foo.tmp) are skipped, so editors and half-written copies are ignored. An entry
// under plugins.<name> configures the file of that name.
func (l *loader) scanPluginDir(c *Config) {
	entries, err := os.ReadDir(c.PluginDir)
	if err != nil {
		l.report("plugin_dir", "cannot read %s: %v", c.PluginDir, errors.Unwrap(err))
		return
	}
	if c.Plugins == nil {
		c.Plugins = map[string]*Plugin{}
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") || !pluginNameRE.MatchString(name) {
			continue
		}
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() || info.Mode()&0o111 == 0 {
			continue
		}
		p := c.Plugins[name]
		if p == nil {
			p = pluginDefaults(name)
			c.Plugins[name] = p
		}
		if p.Path == "" {
			p.Path = filepath.Join(c.PluginDir, name)
		}
	}
}

// expand replaces ${VAR} with the host's environment (empty when unset).
func (l *loader) expand(s, key string) string {
	return envRefRE.ReplaceAllStringFunc(s, func(ref string) string {
		name := ref[2 : len(ref)-1]
		if !validEnvName(name) {
			l.report(key, "%s is not a valid ${VAR} reference", ref)
			return ""
		}
		v, _ := l.env(name)
		return v
	})
}

func (c *Config) abs(p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(c.Dir, p)
}

// ParseListen checks a host:port listen address and returns it normalized.
func ParseListen(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("%q is not host:port (for example 127.0.0.1:8080)", addr)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return "", fmt.Errorf("%q has an invalid port", addr)
	}
	// Syntax only: validating must not depend on (or wait for) DNS; a name that
	// does not resolve fails when serve listens.
	if host != "" && host != "localhost" {
		if _, err := netip.ParseAddr(host); err != nil && !validHostname(host) {
			return "", fmt.Errorf("%q: %q is not an IP address or host name", addr, host)
		}
	}
	return addr, nil
}

// validHostname reports whether h is a DNS name: dot-separated labels of
// letters, digits and inner hyphens (RFC 1123), at most 253 bytes.
func validHostname(h string) bool {
	if len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
				return false
			}
		}
	}
	return true
}

// IsLoopbackListen reports whether addr only accepts connections from this machine.
func IsLoopbackListen(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// isLoopbackHost reports whether a URL's hostname is this machine.
func isLoopbackHost(host string) bool {
	return IsLoopbackListen(net.JoinHostPort(host, "0"))
}

// MinStateSecretLen is the shortest server.state_secret accepted.
const MinStateSecretLen = 32

// validateStateSecret reads server.state_secret_file and checks the secret's
// length; the secret itself never appears in a message.
func (c *Config) validateStateSecret(l *loader) {
	if c.Server.RequestStateTTL <= 0 {
		l.report("server.request_state_ttl", "must be greater than 0")
	}
	if c.Server.StateSecretFile != "" {
		if c.Server.StateSecret != "" {
			l.report("server.state_secret_file", "set either server.state_secret or server.state_secret_file, not both")
			return
		}
		path := c.abs(c.Server.StateSecretFile)
		raw, err := readSmallFile(path)
		if err != nil {
			l.report("server.state_secret_file", "cannot read %s: %v", path, err)
			return
		}
		c.Server.StateSecret = strings.TrimSpace(string(raw))
		if len(c.Server.StateSecret) < MinStateSecretLen {
			l.report("server.state_secret_file", "%s holds %d bytes; the secret must be at least %d (for example: openssl rand -hex 32 > %s)", path, len(c.Server.StateSecret), MinStateSecretLen, path)
		}
		return
	}
	if c.Server.StateSecret != "" && len(c.Server.StateSecret) < MinStateSecretLen {
		l.report("server.state_secret", "is %d bytes; it must be at least %d (for example the output of: openssl rand -hex 32)", len(c.Server.StateSecret), MinStateSecretLen)
	}
}

// maxSecretFile bounds what is read of server.state_secret_file, so naming a
// device or a huge file by mistake cannot stall or exhaust the loader.
const maxSecretFile = 64 << 10

// readSmallFile reads a regular file of at most maxSecretFile bytes.
func readSmallFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, errors.Unwrap(err)
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	raw, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return nil, err
	}
	if len(raw) > maxSecretFile {
		return nil, fmt.Errorf("larger than %d bytes", maxSecretFile)
	}
	return raw, nil
}

// SharedStore reports whether server.store is shared by replicas (Redis).
func (s *Server) SharedStore() bool { return s.Store != "memory" }

// validateStore checks server.store, and that replicas sharing it also share
// the request-state secret: with a random one per process, a 2026-07-28
// input-required round answered through another replica would be refused.
func (c *Config) validateStore(l *loader) {
	if c.Server.Store == "memory" {
		return
	}
	u, err := url.Parse(c.Server.Store)
	bad := err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == ""
	if !bad {
		_, perr := redis.ParseURL(c.Server.Store) // the client's own rules (database number, options)
		bad = perr != nil
	}
	if bad {
		shown := "the value"
		if err == nil {
			shown = strconv.Quote(u.Redacted())
		}
		l.report("server.store", "%s is not memory or a Redis URL like redis://host:6379/0 (rediss:// for TLS)", shown)
		return
	}
	if c.Server.Stateless {
		l.report("server.store", "a shared store holds sessions, and server.stateless has none: drop one of them")
	}
	if c.Server.StateSecret == "" {
		l.reportAt("server.store", "server.state_secret", "must be set (at least %d bytes, or server.state_secret_file) when server.store is shared: every replica must verify the request state the others sign", MinStateSecretLen)
	}
}
