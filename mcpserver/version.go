package mcpserver

// Protocol versions and eras. 2026-07-28 is "modern": no sessions, every
// request carries its version and client capabilities in _meta. The 2024-11-05
// to 2025-11-25 versions are "legacy": an initialize handshake opens a session.

// ModernVersion is the newest protocol version served.
const ModernVersion = "2026-07-28"

// LatestLegacyVersion is what initialize answers a client asking for a version
// this server does not know.
const LatestLegacyVersion = "2025-11-25"

// legacyVersions are the session-based versions served, newest first.
var legacyVersions = []string{"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"}

// supportedVersions lists every version, newest first (server/discover and the
// unsupported-version error).
var supportedVersions = append([]string{ModernVersion}, legacyVersions...)

// isModern reports whether v is a per-request-metadata version.
func isModern(v string) bool { return v == ModernVersion }

func isLegacy(v string) bool {
	for _, l := range legacyVersions {
		if l == v {
			return true
		}
	}
	return false
}

// batchesAllowed reports whether v permits JSON-RPC batches (only 2025-03-26;
// 2025-06-18 removed them, and 2024-11-05 had them on the old transport only).
func batchesAllowed(v string) bool { return v == "2025-03-26" }

// primes reports whether SSE streams for v start with a priming event
// (resumable streams, SEP-1699): 2025-11-25 only.
func primes(v string) bool { return v == "2025-11-25" }

// clientCaps is what the engine needs to know of a client's capabilities.
type clientCaps struct {
	sampling, roots, elicitForm, elicitURL bool
}

func (c clientCaps) has(name string) bool {
	switch name {
	case "sampling":
		return c.sampling
	case "roots":
		return c.roots
	case "elicitation.form":
		return c.elicitForm
	case "elicitation.url":
		return c.elicitURL
	}
	return false
}

// parseClientCaps reads the capabilities object of initialize or of
// io.modelcontextprotocol/clientCapabilities.
func parseClientCaps(raw []byte) clientCaps {
	var c clientCaps
	if kindOf(raw) != '{' {
		return c
	}
	_ = members(raw, func(k []byte, esc bool, v []byte) error {
		switch {
		case keyIs(k, esc, "sampling"):
			c.sampling = kindOf(v) == '{'
		case keyIs(k, esc, "roots"):
			c.roots = kindOf(v) == '{'
		case keyIs(k, esc, "elicitation"):
			if kindOf(v) != '{' {
				return nil
			}
			form, url := memberRaw(v, "form"), memberRaw(v, "url")
			// An empty elicitation object means form mode (2025-06-18 shape).
			c.elicitForm = form != nil || url == nil
			c.elicitURL = url != nil
		}
		return nil
	})
	return c
}
