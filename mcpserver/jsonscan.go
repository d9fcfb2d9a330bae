package mcpserver

import (
	"encoding/json"
	"errors"
	"unicode/utf8"
)

// A small, allocation-free JSON scanner. The engine decodes only the envelope of
// a message and the few parameters it acts on; everything else (tool arguments,
// input responses) stays raw bytes that are validated here once and forwarded.

var errSyntax = errors.New("invalid JSON")

// maxDepth bounds nesting so a hostile body cannot exhaust the stack.
const maxDepth = 128

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// skipValue validates the JSON value starting at b[i] (after any space) and
// returns the index just past it.
func skipValue(b []byte, i, depth int) (int, error) {
	i = skipSpace(b, i)
	if i >= len(b) {
		return 0, errSyntax
	}
	switch c := b[i]; {
	case c == '{':
		return skipObject(b, i, depth+1)
	case c == '[':
		return skipArray(b, i, depth+1)
	case c == '"':
		end, _, err := skipString(b, i)
		return end, err
	case c == 't':
		return skipLiteral(b, i, "true")
	case c == 'f':
		return skipLiteral(b, i, "false")
	case c == 'n':
		return skipLiteral(b, i, "null")
	case c == '-' || (c >= '0' && c <= '9'):
		return skipNumber(b, i)
	}
	return 0, errSyntax
}

func skipLiteral(b []byte, i int, lit string) (int, error) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return 0, errSyntax
	}
	return i + len(lit), nil
}

func skipNumber(b []byte, i int) (int, error) {
	if b[i] == '-' {
		i++
	}
	if i >= len(b) {
		return 0, errSyntax
	}
	if b[i] == '0' {
		i++
	} else if b[i] >= '1' && b[i] <= '9' {
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	} else {
		return 0, errSyntax
	}
	if i < len(b) && b[i] == '.' {
		i++
		start := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == start {
			return 0, errSyntax
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		start := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == start {
			return 0, errSyntax
		}
	}
	return i, nil
}

// skipString validates the string starting at b[i] == '"' and returns the index
// past the closing quote and whether it contains escapes.
func skipString(b []byte, i int) (int, bool, error) {
	i++
	escaped := false
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			return i + 1, escaped, nil
		case c == '\\':
			escaped = true
			if i+1 >= len(b) {
				return 0, false, errSyntax
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) {
					return 0, false, errSyntax
				}
				for _, h := range b[i+2 : i+6] {
					if !isHex(h) {
						return 0, false, errSyntax
					}
				}
				i += 6
			default:
				return 0, false, errSyntax
			}
		case c < 0x20:
			return 0, false, errSyntax
		case c < utf8.RuneSelf:
			i++
		default:
			// Invalid UTF-8 is accepted (as encoding/json does) and forwarded.
			_, n := utf8.DecodeRune(b[i:])
			i += n
		}
	}
	return 0, false, errSyntax
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func skipArray(b []byte, i, depth int) (int, error) {
	if depth > maxDepth {
		return 0, errSyntax
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1, nil
	}
	for {
		var err error
		if i, err = skipValue(b, i, depth); err != nil {
			return 0, err
		}
		i = skipSpace(b, i)
		if i >= len(b) {
			return 0, errSyntax
		}
		switch b[i] {
		case ',':
			i++
		case ']':
			return i + 1, nil
		default:
			return 0, errSyntax
		}
	}
}

func skipObject(b []byte, i, depth int) (int, error) {
	end, err := eachMember(b, i, depth, nil)
	return end, err
}

// eachMember walks the object at b[i] == '{', validating it, and calls fn (if not
// nil) with each member's raw key (without quotes), whether the key has escapes,
// and the raw value. It returns the index past the object.
func eachMember(b []byte, i, depth int, fn func(key []byte, escaped bool, val []byte) error) (int, error) {
	if depth > maxDepth || i >= len(b) || b[i] != '{' {
		return 0, errSyntax
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	for {
		i = skipSpace(b, i)
		if i >= len(b) || b[i] != '"' {
			return 0, errSyntax
		}
		kend, esc, err := skipString(b, i)
		if err != nil {
			return 0, err
		}
		key := b[i+1 : kend-1]
		i = skipSpace(b, kend)
		if i >= len(b) || b[i] != ':' {
			return 0, errSyntax
		}
		vstart := skipSpace(b, i+1)
		vend, err := skipValue(b, vstart, depth)
		if err != nil {
			return 0, err
		}
		if fn != nil {
			if err := fn(key, esc, b[vstart:vend]); err != nil {
				return 0, err
			}
		}
		i = skipSpace(b, vend)
		if i >= len(b) {
			return 0, errSyntax
		}
		switch b[i] {
		case ',':
			i++
		case '}':
			return i + 1, nil
		default:
			return 0, errSyntax
		}
	}
}

// members walks a whole JSON object (raw must be exactly one object, with
// optional surrounding space).
func members(raw []byte, fn func(key []byte, escaped bool, val []byte) error) error {
	i := skipSpace(raw, 0)
	end, err := eachMember(raw, i, 0, fn)
	if err != nil {
		return err
	}
	if skipSpace(raw, end) != len(raw) {
		return errSyntax
	}
	return nil
}

// keyIs compares a raw member key with name, unescaping only when needed.
func keyIs(key []byte, escaped bool, name string) bool {
	if !escaped {
		return string(key) == name
	}
	var s string
	q := make([]byte, 0, len(key)+2)
	q = append(append(append(q, '"'), key...), '"')
	return json.Unmarshal(q, &s) == nil && s == name
}

// validJSON reports whether raw is exactly one JSON value.
func validJSON(raw []byte) bool {
	end, err := skipValue(raw, 0, 0)
	return err == nil && skipSpace(raw, end) == len(raw)
}

// kindOf returns the first byte of a raw value: '{', '[', '"', 't', 'f', 'n' or a
// digit/'-' for numbers; 0 for empty input.
func kindOf(raw []byte) byte {
	i := skipSpace(raw, 0)
	if i >= len(raw) {
		return 0
	}
	c := raw[i]
	if c == '-' || (c >= '0' && c <= '9') {
		return '0'
	}
	return c
}

// stringValue decodes a raw JSON string; ok is false for anything else.
func stringValue(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	inner := raw[1 : len(raw)-1]
	plain := true
	for _, c := range inner {
		if c == '\\' {
			plain = false
			break
		}
	}
	if plain {
		return string(inner), true
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// IsJSONObject reports whether raw is exactly one valid JSON object.
func IsJSONObject(raw []byte) bool { return kindOf(raw) == '{' && validJSON(raw) }
