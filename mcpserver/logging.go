package mcpserver

// logging/setLevel (legacy): the session's minimum level for notifications/message.
// On 2026-07-28 the level travels in each request's _meta instead
// (io.modelcontextprotocol/logLevel), and without it nothing is sent.

func handleSetLevel(rq *request) (Encoded, error) {
	level, ok := stringValue(rq.p.level)
	if _, known := levelRank(level); !ok || !known {
		return nil, InvalidParams("invalid params: logging/setLevel level must be one of debug, info, notice, warning, error, critical, alert, emergency")
	}
	if rq.session != nil {
		if err := rq.s.sessions.SetLogLevel(rq.ctx, rq.session.ID, level); err != nil {
			return nil, storeError(rq.ctx, rq.s, err)
		}
	}
	return Members(nil), nil
}
