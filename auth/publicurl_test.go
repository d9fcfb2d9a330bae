package auth

import (
	"crypto/tls"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

func TestPublicURLOrigin(t *testing.T) {
	proxies, err := ParsePrefixes([]string{"10.0.0.0/8", "::1", "192.168.1.7"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		pu      PublicURL
		remote  string
		host    string
		tls     bool
		headers map[string]string
		want    string
	}{
		{name: "base wins", pu: PublicURL{Base: "https://mcp.example.com/", TrustedProxies: proxies},
			remote: "10.1.2.3:5555", host: "internal:8080",
			headers: map[string]string{"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "http"},
			want:    "https://mcp.example.com"},
		{name: "listen address, not the Host header", pu: PublicURL{Listen: "127.0.0.1:8080"}, remote: "203.0.113.9:1000", host: "evil.example", want: "http://127.0.0.1:8080"},
		{name: "tls request", pu: PublicURL{Listen: "mcp.local:8443"}, remote: "203.0.113.9:1000", host: "evil.example", tls: true, want: "https://mcp.local:8443"},
		{name: "empty host uses listen", pu: PublicURL{Listen: "127.0.0.1:9000"}, remote: "1.2.3.4:1", host: "", want: "http://127.0.0.1:9000"},
		{name: "wildcard listen becomes localhost", pu: PublicURL{Listen: ":9000"}, remote: "1.2.3.4:1", want: "http://localhost:9000"},
		{name: "unspecified listen becomes localhost", pu: PublicURL{Listen: "0.0.0.0:9000"}, remote: "1.2.3.4:1", want: "http://localhost:9000"},
		{name: "no host no listen", remote: "1.2.3.4:1", want: "http://localhost"},
		{name: "trusted proxy honoured", pu: PublicURL{TrustedProxies: proxies}, remote: "10.9.8.7:4444", host: "backend:8080",
			headers: map[string]string{"X-Forwarded-Host": "mcp.example.com", "X-Forwarded-Proto": "https"},
			want:    "https://mcp.example.com"},
		{name: "trusted proxy: last of comma list (the value the proxy added)", pu: PublicURL{TrustedProxies: proxies}, remote: "10.9.8.7:4444", host: "backend:8080",
			headers: map[string]string{"X-Forwarded-Host": " evil.example , a.example.com:8443", "X-Forwarded-Proto": "http, HTTPS"},
			want:    "https://a.example.com:8443"},
		{name: "trusted ipv6 loopback proxy", pu: PublicURL{TrustedProxies: proxies}, remote: "[::1]:4444", host: "backend",
			headers: map[string]string{"X-Forwarded-Host": "[2001:db8::1]:443", "X-Forwarded-Proto": "https"},
			want:    "https://[2001:db8::1]:443"},
		{name: "trusted single ip proxy", pu: PublicURL{TrustedProxies: proxies}, remote: "192.168.1.7:1", host: "backend",
			headers: map[string]string{"X-Forwarded-Host": "pub.example"}, want: "http://pub.example"},
		{name: "ipv4-mapped peer matches v4 prefix", pu: PublicURL{TrustedProxies: proxies}, remote: "[::ffff:10.0.0.5]:1", host: "backend",
			headers: map[string]string{"X-Forwarded-Host": "pub.example"}, want: "http://pub.example"},
		{name: "spoofed headers from untrusted peer ignored", pu: PublicURL{Listen: "127.0.0.1:8080", TrustedProxies: proxies}, remote: "203.0.113.50:1234", host: "127.0.0.1:8080",
			headers: map[string]string{"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"},
			want:    "http://127.0.0.1:8080"},
		{name: "spoofed headers with no trusted proxies ignored", pu: PublicURL{Listen: "127.0.0.1:8080"}, remote: "10.0.0.1:1234", host: "127.0.0.1:8080",
			headers: map[string]string{"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"},
			want:    "http://127.0.0.1:8080"},
		{name: "trusted proxy invalid forwarded host ignored", pu: PublicURL{Listen: "backend:80", TrustedProxies: proxies}, remote: "10.0.0.1:1", host: "evil.example",
			headers: map[string]string{"X-Forwarded-Host": `evil.example/"path`, "X-Forwarded-Proto": "javascript"},
			want:    "http://backend:80"},
		{name: "trusted proxy userinfo host ignored", pu: PublicURL{Listen: "backend", TrustedProxies: proxies}, remote: "10.0.0.1:1", host: "evil.example",
			headers: map[string]string{"X-Forwarded-Host": "user@evil.example"}, want: "http://backend"},
		{name: "trusted proxy bad port ignored", pu: PublicURL{Listen: "backend", TrustedProxies: proxies}, remote: "10.0.0.1:1", host: "evil.example",
			headers: map[string]string{"X-Forwarded-Host": "a.example:99999"}, want: "http://backend"},
		{name: "unparseable remote addr untrusted", pu: PublicURL{Listen: "backend", TrustedProxies: proxies}, remote: "garbage", host: "evil.example",
			headers: map[string]string{"X-Forwarded-Host": "evil.example"}, want: "http://backend"},
		{name: "invalid request host falls back to listen", pu: PublicURL{Listen: "127.0.0.1:1"}, remote: "1.1.1.1:1", host: "a b",
			want: "http://127.0.0.1:1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/mcp", nil)
			r.RemoteAddr = tc.remote
			r.Host = tc.host
			if tc.tls {
				r.TLS = &tls.ConnectionState{}
			} else {
				r.TLS = nil
			}
			for k, v := range tc.headers {
				r.Header.Set(k, v)
			}
			if got := tc.pu.Origin(r); got != tc.want {
				t.Fatalf("Origin = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestPublicURLDefault(t *testing.T) {
	for _, tc := range []struct {
		pu   PublicURL
		want string
	}{
		{PublicURL{Base: "https://mcp.example.com/", Listen: "0.0.0.0:1"}, "https://mcp.example.com"},
		{PublicURL{Listen: "127.0.0.1:8080"}, "http://127.0.0.1:8080"},
		{PublicURL{Listen: "localhost:8080"}, "http://localhost:8080"},
		{PublicURL{Listen: "0.0.0.0:8080"}, "http://localhost:8080"},
	} {
		if got := tc.pu.Default(); got != tc.want {
			t.Errorf("%+v.Default() = %q, want %q", tc.pu, got, tc.want)
		}
		// A direct request must see the same origin as the default audience.
		r := httptest.NewRequest("GET", "/mcp", nil)
		r.Host = "somewhere.else"
		r.TLS = nil
		if got := tc.pu.Origin(r); got != tc.want {
			t.Errorf("%+v.Origin = %q, want %q (same as Default)", tc.pu, got, tc.want)
		}
	}
}

func TestParsePrefixes(t *testing.T) {
	tests := []struct {
		in      []string
		want    []string
		wantErr string
	}{
		{in: nil, want: []string{}},
		{in: []string{"10.0.0.1"}, want: []string{"10.0.0.1/32"}},
		{in: []string{"10.1.2.3/8"}, want: []string{"10.0.0.0/8"}},
		{in: []string{" ::1 ", "fd00::/8"}, want: []string{"::1/128", "fd00::/8"}},
		{in: []string{"::ffff:192.168.0.1"}, want: []string{"192.168.0.1/32"}},
		{in: []string{"::ffff:192.168.0.0/120"}, want: []string{"192.168.0.0/24"}},
		{in: []string{"10.0.0.1", "bogus"}, wantErr: `"bogus"`},
		{in: []string{"10.0.0.0/33"}, wantErr: `"10.0.0.0/33"`},
		{in: []string{""}, wantErr: "empty"},
		{in: []string{"example.com"}, wantErr: `"example.com"`},
	}
	for _, tc := range tests {
		got, err := ParsePrefixes(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParsePrefixes(%q) err = %v, want containing %s", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParsePrefixes(%q): %v", tc.in, err)
			continue
		}
		if len(got) != len(tc.want) {
			t.Errorf("ParsePrefixes(%q) = %v, want %v", tc.in, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != netip.MustParsePrefix(tc.want[i]) {
				t.Errorf("ParsePrefixes(%q)[%d] = %v, want %v", tc.in, i, got[i], tc.want[i])
			}
		}
	}
}
