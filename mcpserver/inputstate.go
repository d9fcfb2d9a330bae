package mcpserver

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// The requestState of an input-required result (2026-07-28, SEP-2322). It
// travels through the client, so it is signed (HMAC-SHA256 with the host's state
// secret, which replicas share) and bound to the verified user, the method, the
// tool (or prompt, or URI) and a digest of the arguments, and it expires. It
// carries the answers of earlier rounds, because a client sends only the answers
// to the latest questions: any replica can resume the request from it alone.

// MinStateSecretLen is the shortest secret accepted for signing request state.
const MinStateSecretLen = 32

type stateCodec struct {
	key []byte
	ttl time.Duration
	now func() time.Time
}

func newStateCodec(secret []byte, ttl time.Duration, now func() time.Time) *stateCodec {
	if len(secret) == 0 {
		secret = make([]byte, 32)
		_, _ = rand.Read(secret)
	}
	return &stateCodec{key: secret, ttl: ttl, now: now}
}

// requestState is the signed payload.
type requestState struct {
	V      int    `json:"v"`
	User   string `json:"u"`
	Method string `json:"m"`
	Name   string `json:"n"`
	Args   string `json:"a"`
	Exp    int64  `json:"e"` // unix milliseconds
	// Answers of earlier rounds, and the questions of the latest round (key ->
	// hex digest of its params) whose answers the retry may bring.
	Answers map[string]stateAnswer `json:"r,omitempty"`
	Asked   map[string]string      `json:"q,omitempty"`
}

type stateAnswer struct {
	Result json.RawMessage `json:"r"`
	Digest string          `json:"d"`
}

const stateVersion = 1

var errBadState = errors.New("requestState is invalid or was not issued for this request")

func (sc *stateCodec) mac(payload []byte) []byte {
	m := hmac.New(sha256.New, sc.key)
	m.Write([]byte("mcphost.requestState.v1."))
	m.Write(payload)
	return m.Sum(nil)
}

func argsDigest(args []byte) string {
	sum := sha256.Sum256(args)
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

// seal signs st.
func (sc *stateCodec) seal(st *requestState) (string, error) {
	st.V = stateVersion
	st.Exp = sc.now().Add(sc.ttl).UnixMilli()
	payload, err := json.Marshal(st)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(payload) + "." + base64.RawURLEncoding.EncodeToString(sc.mac(payload)), nil
}

// open verifies token and checks that it belongs to this user and request.
func (sc *stateCodec) open(token, user, method, name string, args []byte) (*requestState, error) {
	p, sig, ok := strings.Cut(token, ".")
	if !ok {
		return nil, errBadState
	}
	payload, err1 := base64.RawURLEncoding.DecodeString(p)
	mac, err2 := base64.RawURLEncoding.DecodeString(sig)
	if err1 != nil || err2 != nil || subtle.ConstantTimeCompare(mac, sc.mac(payload)) != 1 {
		return nil, errBadState
	}
	var st requestState
	if json.Unmarshal(payload, &st) != nil || st.V != stateVersion {
		return nil, errBadState
	}
	if st.User != user || st.Method != method || st.Name != name || st.Args != argsDigest(args) {
		return nil, errBadState
	}
	if sc.now().UnixMilli() >= st.Exp {
		return nil, errors.New("requestState has expired; send the request again without it")
	}
	return &st, nil
}

// answers merges the state's earlier answers with the retry's inputResponses
// (only those answering a question of the latest round).
func (st *requestState) answers(responses []byte) (map[string]Answer, error) {
	out := make(map[string]Answer, len(st.Answers)+len(st.Asked))
	for k, a := range st.Answers {
		if a.Digest == "" {
			out[k] = Answer{Result: a.Result, Unverified: true}
			continue
		}
		d, err := decodeDigest(a.Digest)
		if err != nil {
			return nil, errBadState
		}
		out[k] = Answer{Result: a.Result, ParamsDigest: d}
	}
	if responses == nil {
		return out, nil
	}
	if kindOf(responses) != '{' {
		return nil, errors.New("inputResponses must be an object")
	}
	err := members(responses, func(k []byte, esc bool, v []byte) error {
		key := string(k)
		if esc {
			key, _ = stringValue(append(append([]byte{'"'}, k...), '"'))
		}
		digest, asked := st.Asked[key]
		if !asked {
			return nil // not a question of ours: ignored, as the spec asks
		}
		if kindOf(v) != '{' {
			return errors.New("inputResponses." + key + " must be an object")
		}
		d, err := decodeDigest(digest)
		if err != nil {
			return errBadState
		}
		out[key] = Answer{Result: append([]byte(nil), v...), ParamsDigest: d}
		return nil
	})
	return out, err
}

func decodeDigest(s string) ([32]byte, error) {
	var d [32]byte
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(d) {
		return d, errBadState
	}
	copy(d[:], b)
	return d, nil
}

// volunteeredAnswers reads inputResponses sent without a requestState: a
// client may answer up front (for example on its first try). They are held to
// nothing, and each must at least be a result object.
func volunteeredAnswers(responses []byte) (map[string]Answer, error) {
	out := map[string]Answer{}
	if responses == nil || kindOf(responses) == 'n' {
		return out, nil
	}
	if kindOf(responses) != '{' {
		return nil, errors.New("inputResponses must be an object")
	}
	err := members(responses, func(k []byte, esc bool, v []byte) error {
		key := string(k)
		if esc {
			key, _ = stringValue(append(append([]byte{'"'}, k...), '"'))
		}
		if kindOf(v) != '{' {
			return errors.New("inputResponses." + key + " must be an object")
		}
		out[key] = Answer{Result: append([]byte(nil), v...), Unverified: true}
		return nil
	})
	return out, err
}

// next builds the state for a new round: all answers known so far, and the
// questions just asked.
func nextState(user, method, name string, args []byte, known map[string]Answer, asked []question) *requestState {
	st := &requestState{User: user, Method: method, Name: name, Args: argsDigest(args), Asked: map[string]string{}}
	if len(known) > 0 {
		st.Answers = make(map[string]stateAnswer, len(known))
		for k, a := range known {
			d := ""
			if !a.Unverified {
				d = hex.EncodeToString(a.ParamsDigest[:])
			}
			st.Answers[k] = stateAnswer{Result: a.Result, Digest: d}
		}
	}
	for _, q := range asked {
		d := Digest(q.params)
		st.Asked[q.key] = hex.EncodeToString(d[:])
	}
	return st
}
