package mcpserver

// params holds the raw members of a request's params that the engine acts on,
// read in one pass; everything else is ignored (and tool arguments are never
// decoded here, only forwarded).
type params struct {
	meta           []byte
	name           []byte
	uri            []byte
	arguments      []byte
	inputResponses []byte
	requestState   []byte
	notifications  []byte
	ref            []byte
	argument       []byte
	context        []byte
	level          []byte
	capabilities   []byte
	clientInfo     []byte
	version        []byte // initialize's protocolVersion
	requestID      []byte // notifications/cancelled
}

func parseParams(raw []byte) (params, error) {
	var p params
	if raw == nil {
		return p, nil
	}
	err := members(raw, func(k []byte, esc bool, v []byte) error {
		key := string(k)
		if esc {
			key, _ = stringValue(append(append([]byte{'"'}, k...), '"'))
		}
		switch key {
		case "_meta":
			p.meta = v
		case "name":
			p.name = v
		case "uri":
			p.uri = v
		case "arguments":
			p.arguments = v
		case "inputResponses":
			p.inputResponses = v
		case "requestState":
			p.requestState = v
		case "notifications":
			p.notifications = v
		case "ref":
			p.ref = v
		case "argument":
			p.argument = v
		case "context":
			p.context = v
		case "level":
			p.level = v
		case "capabilities":
			p.capabilities = v
		case "clientInfo":
			p.clientInfo = v
		case "protocolVersion":
			p.version = v
		case "requestId":
			p.requestID = v
		}
		return nil
	})
	return p, err
}

// requestMeta is what the engine reads from a request's _meta.
type requestMeta struct {
	protocolVersion string
	hasVersion      bool
	capabilities    []byte
	logLevel        string
	progressToken   []byte
	// traceparent and tracestate carry the caller's W3C trace context
	// (OpenTelemetry's MCP conventions put it in _meta).
	traceparent, tracestate string
}

func parseMeta(raw []byte) (requestMeta, bool) {
	var m requestMeta
	if raw == nil {
		return m, true
	}
	if kindOf(raw) != '{' {
		return m, false
	}
	ok := true
	_ = members(raw, func(k []byte, esc bool, v []byte) error {
		switch {
		case keyIs(k, esc, "io.modelcontextprotocol/protocolVersion"):
			m.hasVersion = true
			m.protocolVersion, ok = stringValue(v)
		case keyIs(k, esc, "io.modelcontextprotocol/clientCapabilities"):
			m.capabilities = v
		case keyIs(k, esc, "io.modelcontextprotocol/logLevel"):
			m.logLevel, _ = stringValue(v)
		case keyIs(k, esc, "progressToken"):
			if c := kindOf(v); c == '"' || c == '0' {
				m.progressToken = v
			}
		case keyIs(k, esc, "traceparent"):
			m.traceparent, _ = stringValue(v)
		case keyIs(k, esc, "tracestate"):
			m.tracestate, _ = stringValue(v)
		}
		return nil
	})
	return m, ok
}
