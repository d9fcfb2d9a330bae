package sdk

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// argSchema checks decoded tool arguments against the part of JSON Schema that
// schemas inferred from Go types use (types, properties, required, closed
// objects, items, enums, numeric and length bounds). The general validator
// walks values through reflection and was a seventh of a trivial typed tool's
// CPU; this one is a plain walk. A schema using any other keyword (after a
// WithInputSchema edit, say) is not compiled and the general validator runs.
type argSchema struct {
	types        []string // allowed JSON types; empty allows all
	props        map[string]*argSchema
	required     []string
	closed       bool       // additionalProperties: false
	additional   *argSchema // schema of properties not in props; nil allows any
	items        *argSchema
	enum         []any
	hasEnum      bool
	min, max     *float64
	exMin, exMax *float64
	minLen       int
	maxLen       int // -1: no bound
	minItems     int
	maxItems     int  // -1: no bound
	never        bool // the false schema
}

// annotations carry no constraint.
var annotationKeys = map[string]bool{"title": true, "description": true, "default": true, "examples": true, "$schema": true, "$comment": true, "deprecated": true, "readOnly": true, "writeOnly": true}

// compileArgSchema compiles raw, or reports false if it uses a keyword this
// checker does not implement.
func compileArgSchema(raw []byte) (*argSchema, bool) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, false
	}
	return compileNode(v)
}

func compileNode(v any) (*argSchema, bool) {
	switch v := v.(type) {
	case bool:
		return &argSchema{never: !v, maxLen: -1, maxItems: -1}, true
	case map[string]any:
		s := &argSchema{maxLen: -1, maxItems: -1}
		for k, val := range v {
			if annotationKeys[k] {
				continue
			}
			if !s.compileKey(k, val) {
				return nil, false
			}
		}
		return s, true
	}
	return nil, false
}

func (s *argSchema) compileKey(k string, val any) bool {
	switch k {
	case "type":
		switch t := val.(type) {
		case string:
			s.types = []string{t}
		case []any:
			for _, e := range t {
				name, ok := e.(string)
				if !ok {
					return false
				}
				s.types = append(s.types, name)
			}
		default:
			return false
		}
	case "properties":
		m, ok := val.(map[string]any)
		if !ok {
			return false
		}
		s.props = make(map[string]*argSchema, len(m))
		for name, sub := range m {
			c, ok := compileNode(sub)
			if !ok {
				return false
			}
			s.props[name] = c
		}
	case "required":
		list, ok := val.([]any)
		if !ok {
			return false
		}
		for _, e := range list {
			name, ok := e.(string)
			if !ok {
				return false
			}
			s.required = append(s.required, name)
		}
	case "additionalProperties":
		c, ok := compileNode(val)
		if !ok {
			return false
		}
		if c.never {
			s.closed = true
		} else {
			s.additional = c
		}
	case "items":
		c, ok := compileNode(val)
		if !ok {
			return false
		}
		s.items = c
	case "enum":
		list, ok := val.([]any)
		if !ok {
			return false
		}
		s.enum, s.hasEnum = list, true
	case "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum":
		f, ok := val.(float64)
		if !ok {
			return false
		}
		switch k {
		case "minimum":
			s.min = &f
		case "maximum":
			s.max = &f
		case "exclusiveMinimum":
			s.exMin = &f
		default:
			s.exMax = &f
		}
	case "minLength", "maxLength", "minItems", "maxItems":
		f, ok := val.(float64)
		if !ok || f < 0 || f != math.Trunc(f) || f > math.MaxInt32 {
			return false
		}
		n := int(f)
		switch k {
		case "minLength":
			s.minLen = n
		case "maxLength":
			s.maxLen = n
		case "minItems":
			s.minItems = n
		default:
			s.maxItems = n
		}
	default:
		return false
	}
	return true
}

// check reports the first way v breaks the schema, naming where (path).
func (s *argSchema) check(path string, v any) error {
	if s.never {
		return fail(path, "not allowed")
	}
	if len(s.types) > 0 && !slices.ContainsFunc(s.types, func(t string) bool { return isType(v, t) }) {
		return fail(path, "got %s, want %s", jsonType(v), strings.Join(s.types, " or "))
	}
	if s.hasEnum && !slices.ContainsFunc(s.enum, func(e any) bool { return reflect.DeepEqual(e, v) }) {
		return fail(path, "%s is not one of the allowed values", short(v))
	}
	switch v := v.(type) {
	case float64:
		return s.checkNumber(path, v)
	case string:
		if n := utf8.RuneCountInString(v); n < s.minLen || (s.maxLen >= 0 && n > s.maxLen) {
			return fail(path, "length %d is outside %s", n, bounds(s.minLen, s.maxLen))
		}
	case []any:
		if n := len(v); n < s.minItems || (s.maxItems >= 0 && n > s.maxItems) {
			return fail(path, "%d items is outside %s", n, bounds(s.minItems, s.maxItems))
		}
		if s.items != nil {
			for i, e := range v {
				if err := s.items.check(path+"["+strconv.Itoa(i)+"]", e); err != nil {
					return err
				}
			}
		}
	case map[string]any:
		return s.checkObject(path, v)
	}
	return nil
}

func (s *argSchema) checkNumber(path string, f float64) error {
	switch {
	case s.min != nil && f < *s.min:
		return fail(path, "%v is less than the minimum %v", f, *s.min)
	case s.max != nil && f > *s.max:
		return fail(path, "%v is more than the maximum %v", f, *s.max)
	case s.exMin != nil && f <= *s.exMin:
		return fail(path, "%v must be more than %v", f, *s.exMin)
	case s.exMax != nil && f >= *s.exMax:
		return fail(path, "%v must be less than %v", f, *s.exMax)
	}
	return nil
}

func (s *argSchema) checkObject(path string, m map[string]any) error {
	for _, name := range s.required {
		if _, ok := m[name]; !ok {
			return fail(path, "property %q is required", name)
		}
	}
	// Sorted, so the error for several bad properties is always the same one.
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		sub, known := s.props[name]
		switch {
		case known:
		case s.closed:
			return fail(path, "unknown property %q", name)
		case s.additional != nil:
			sub = s.additional
		default:
			continue
		}
		if err := sub.check(join(path, name), m[name]); err != nil {
			return err
		}
	}
	return nil
}

func isType(v any, t string) bool {
	switch t {
	case "null":
		return v == nil
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "number":
		_, ok := v.(float64)
		return ok
	case "integer":
		f, ok := v.(float64)
		return ok && f == math.Trunc(f) && !math.IsInf(f, 0)
	}
	return false
}

func jsonType(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case float64:
		if v == math.Trunc(v) {
			return "integer"
		}
		return "number"
	}
	return fmt.Sprintf("%T", v)
}

// fail is an error about the value at path ("" for the arguments object).
func fail(path, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if path == "" {
		return errors.New(msg)
	}
	return errors.New(path + ": " + msg)
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func bounds(lo, hi int) string {
	if hi < 0 {
		return fmt.Sprintf("[%d, ∞)", lo)
	}
	return fmt.Sprintf("[%d, %d]", lo, hi)
}

// short is v as JSON, cut to a length fit for an error message.
func short(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 40 {
		return string(b[:40]) + "…"
	}
	return string(b)
}
