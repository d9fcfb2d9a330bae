package mcpserver

import (
	"errors"
	"net/http"
)

// What the server tells a client about itself: initialize (legacy) and
// server/discover (2026-07-28).

// appendCapabilities writes the capabilities object for what is on offer now.
func (s *Server) appendCapabilities(b []byte, modern bool) []byte {
	c := s.b.Capabilities()
	b = append(b, `{"tools":{"listChanged":true},"logging":{}`...)
	if c.Resources {
		b = append(b, `,"resources":{"subscribe":true,"listChanged":true}`...)
	}
	if c.Prompts {
		b = append(b, `,"prompts":{"listChanged":true}`...)
	}
	if c.Completions {
		b = append(b, `,"completions":{}`...)
	}
	return append(b, '}')
}

func handleInitialize(rq *request) (Encoded, error) {
	s := rq.s
	if !s.o.Stateless {
		sess := &Session{
			ID:                 newID(),
			Owner:              s.o.CallerKey(rq.caller),
			ProtocolVersion:    rq.version,
			ClientCapabilities: append([]byte(nil), rq.p.capabilities...),
			ClientInfo:         append([]byte(nil), rq.p.clientInfo...),
			Created:            s.o.Now(),
		}
		closed, err := s.sessions.Create(rq.ctx, sess, s.o.SessionCaps)
		if errors.Is(err, ErrTooManySessions) {
			s.log.WarnContext(rq.ctx, "session refused: the store is full", "max_sessions", s.o.SessionCaps.Total)
			return nil, newError(http.StatusServiceUnavailable, CodeInternalError, "the server holds as many sessions as it may (server.max_sessions); try again later, or use protocol version "+ModernVersion+", which needs none")
		}
		if err != nil {
			s.log.WarnContext(rq.ctx, "session store failed", "error", err)
			return nil, newError(http.StatusServiceUnavailable, CodeInternalError, "the session store is unavailable; try again")
		}
		for _, id := range closed {
			// The user's least recently used sessions made room for this one.
			s.log.InfoContext(rq.ctx, "session closed: its user opened more than server.max_sessions_per_user", "user", sess.Owner, "max_sessions_per_user", s.o.SessionCaps.PerOwner)
			s.endSession(rq.ctx, id)
		}
		rq.rs.extra = http.Header{"Mcp-Session-Id": {sess.ID}}
	}
	b := []byte(`"protocolVersion":`)
	b = appendString(b, rq.version)
	b = append(b, `,"capabilities":`...)
	b = s.appendCapabilities(b, false)
	b = append(b, `,"serverInfo":`...)
	b = append(b, s.serverInfo...)
	if s.o.Instructions != "" {
		b = append(b, `,"instructions":`...)
		b = appendString(b, s.o.Instructions)
	}
	return Members(b), nil
}

func handleDiscover(rq *request) (Encoded, error) {
	s := rq.s
	b := []byte(`"supportedVersions":[`)
	for i, v := range supportedVersions {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, v)
	}
	b = append(b, `],"capabilities":`...)
	b = s.appendCapabilities(b, true)
	b = append(b, `,"_meta":{"io.modelcontextprotocol/serverInfo":`...)
	b = append(b, s.serverInfo...)
	b = append(b, '}')
	if s.o.Instructions != "" {
		b = append(b, `,"instructions":`...)
		b = appendString(b, s.o.Instructions)
	}
	return Members(b), nil
}
