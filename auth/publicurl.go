package auth

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// PublicURL works out the origin (scheme://host[:port]) under which clients reach
// this server. OAuth discovery documents and WWW-Authenticate challenges must name
// URLs the client can actually use, which differ from the listen address behind a
// reverse proxy; forwarded headers are only believed from configured proxies,
// because anyone else could use them to point clients at a host of their choosing.
type PublicURL struct {
	// Base is the configured public origin, e.g. "https://mcp.example.com"; when
	// set it wins over everything the request says.
	Base string
	// Listen is the host:port the server listens on, the last-resort fallback when
	// a request carries no usable Host.
	Listen string
	// TrustedProxies are the peers whose X-Forwarded-Proto/-Host are honoured.
	TrustedProxies []netip.Prefix
}

// Origin returns the scheme://host of this server as the client of r sees it.
func (p PublicURL) Origin(r *http.Request) string {
	if p.Base != "" {
		return strings.TrimRight(p.Base, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	// Never the request's Host header: a client must not be able to choose the
	// resource URL this server advertises (or a cache could keep its choice).
	host := listenHost(p.Listen)
	if p.trusted(r.RemoteAddr) {
		if v := strings.ToLower(lastValue(r.Header.Get("X-Forwarded-Proto"))); v == "http" || v == "https" {
			scheme = v
		}
		if v := lastValue(r.Header.Get("X-Forwarded-Host")); validHost(v) {
			host = v
		}
	}
	return scheme + "://" + host
}

// Default is the origin without a request: Base, else derived from Listen. It
// names the default audience and the dev issuer, so it must agree with Origin
// for direct (not proxied) requests.
func (p PublicURL) Default() string {
	if p.Base != "" {
		return strings.TrimRight(p.Base, "/")
	}
	return "http://" + listenHost(p.Listen)
}

// trusted reports whether the peer address is inside one of TrustedProxies.
func (p PublicURL) trusted(remoteAddr string) bool { return PeerTrusted(remoteAddr, p.TrustedProxies) }

// PeerTrusted reports whether a request's RemoteAddr (host:port, or a bare
// address) is inside one of the trusted proxy prefixes.
func PeerTrusted(remoteAddr string, trusted []netip.Prefix) bool {
	if len(trusted) == 0 {
		return false
	}
	var addr netip.Addr
	if ap, err := netip.ParseAddrPort(remoteAddr); err == nil {
		addr = ap.Addr()
	} else if a, err := netip.ParseAddr(remoteAddr); err == nil {
		addr = a
	} else {
		return false
	}
	addr = addr.Unmap().WithZone("")
	for _, pfx := range trusted {
		if pfx.Contains(addr) {
			return true
		}
	}
	return false
}

// lastValue returns the last element of a comma-separated header value: each
// proxy in a chain appends its own, so the last one is what the trusted proxy
// itself set; earlier ones may come from the client.
func lastValue(v string) string {
	if i := strings.LastIndexByte(v, ','); i >= 0 {
		v = v[i+1:]
	}
	return strings.TrimSpace(v)
}

// listenHost turns a listen address into something usable in a URL: a wildcard
// or empty host (":8080", "0.0.0.0:8080") means this machine, so say localhost.
func listenHost(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		if validHost(listen) {
			return listen
		}
		return "localhost"
	}
	if a, err := netip.ParseAddr(host); host == "" || (err == nil && a.IsUnspecified()) {
		host = "localhost"
	}
	h := net.JoinHostPort(host, port)
	if !validHost(h) {
		return "localhost"
	}
	return h
}

// validHost accepts "name", "name:port", "1.2.3.4:port" and "[v6]:port" with a
// conservative character set, so an untrusted value can never smuggle a path,
// userinfo, quote or whitespace into a URL or header we build from it.
func validHost(h string) bool {
	if h == "" || len(h) > 255 {
		return false
	}
	name, port := h, ""
	if strings.HasPrefix(h, "[") {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return false
		}
		a, err := netip.ParseAddr(h[1:end])
		if err != nil || !a.Is6() || a.Zone() != "" {
			return false
		}
		rest := h[end+1:]
		if rest == "" {
			return true
		}
		if rest[0] != ':' {
			return false
		}
		return validPort(rest[1:])
	}
	if i := strings.LastIndexByte(h, ':'); i >= 0 {
		name, port = h[:i], h[i+1:]
		if !validPort(port) {
			return false
		}
	}
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '.', c == '_':
		default:
			return false
		}
	}
	return true
}

func validPort(p string) bool {
	if p == "" || len(p) > 5 {
		return false
	}
	n := 0
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
		n = n*10 + int(p[i]-'0')
	}
	return n <= 65535
}

// ParsePrefixes parses trusted-proxy entries, each a single IP ("10.0.0.1",
// "::1") or a CIDR ("10.0.0.0/8"). IPv4-mapped IPv6 forms are folded to IPv4 so
// they match peers the way net/http reports them.
func ParsePrefixes(entries []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(entries))
	for _, raw := range entries {
		s := strings.TrimSpace(raw)
		if s == "" {
			return nil, fmt.Errorf("trusted proxy %q: empty entry", raw)
		}
		if strings.Contains(s, "/") {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				return nil, fmt.Errorf("trusted proxy %q: not an IP or CIDR", raw)
			}
			if p.Addr().Is4In6() && p.Bits() >= 96 {
				p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: not an IP or CIDR", raw)
		}
		a = a.Unmap().WithZone("")
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}
