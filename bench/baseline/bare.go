package baseline

import (
	"encoding/json"
	"net/http"

	"github.com/mcphost/mcphost/auth"
)

// NewBareHandler is the floor: a plain net/http JSON-RPC handler that decodes
// the request with encoding/json, adds, and writes one application/json
// response. It keeps no sessions and checks no protocol headers; initialize is
// answered (without a session id) so a session-era client can run against it.
// The caller must put the gate in front; without a verified caller it answers 401.
func NewBareHandler(maxBodyBytes int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		if auth.CallerFromContext(r.Context()) == nil {
			http.Error(w, "no verified caller", http.StatusUnauthorized)
			return
		}
		var req struct {
			JSONRPC string          `json:"jsonrpc"`
			ID      json.RawMessage `json:"id"`
			Method  string          `json:"method"`
			Params  struct {
				Name            string `json:"name"`
				ProtocolVersion string `json:"protocolVersion"`
				Arguments       struct {
					A *float64 `json:"a"`
					B *float64 `json:"b"`
				} `json:"arguments"`
			} `json:"params"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes)).Decode(&req); err != nil || req.JSONRPC != "2.0" {
			writeRPC(w, http.StatusBadRequest, rpcResponse{ID: json.RawMessage("null"), Error: &rpcError{Code: -32700, Message: "parse error"}})
			return
		}
		if req.ID == nil { // a notification
			w.WriteHeader(http.StatusAccepted)
			return
		}
		resp := rpcResponse{ID: req.ID}
		switch {
		case req.Method == "initialize":
			resp.Result = initializeResult{
				ProtocolVersion: req.Params.ProtocolVersion,
				Capabilities:    map[string]any{"tools": map[string]any{}},
				ServerInfo:      map[string]string{"name": "mcpbench-bare", "version": "1.0.0"},
			}
		case req.Method == "tools/call" && req.Params.Name == "add":
			a, b := req.Params.Arguments.A, req.Params.Arguments.B
			if a == nil || b == nil {
				resp.Error = &rpcError{Code: -32602, Message: "add needs numbers a and b"}
				break
			}
			sc, _ := json.Marshal(AddOut{Sum: *a + *b})
			resp.Result = toolResult{Content: []textContent{{Type: "text", Text: string(sc)}}, StructuredContent: sc}
		case req.Method == "tools/call":
			resp.Error = &rpcError{Code: -32602, Message: "unknown tool"}
		default:
			resp.Error = &rpcError{Code: -32601, Message: "method not found"}
		}
		writeRPC(w, http.StatusOK, resp)
	})
}

type rpcResponse struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Result  any             `json:"result,omitempty"`
	Error   *rpcError       `json:"error,omitempty"`
}

type rpcError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

type initializeResult struct {
	ProtocolVersion string            `json:"protocolVersion"`
	Capabilities    map[string]any    `json:"capabilities"`
	ServerInfo      map[string]string `json:"serverInfo"`
}

type toolResult struct {
	Content           []textContent   `json:"content"`
	StructuredContent json.RawMessage `json:"structuredContent"`
}

type textContent struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

func writeRPC(w http.ResponseWriter, status int, resp rpcResponse) {
	resp.JSONRPC = "2.0"
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(resp)
}
