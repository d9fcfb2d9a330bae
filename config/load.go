package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Error is one configuration problem. Its text is a single line:
// "FILE[:LINE]: KEY: PROBLEM".
type Error struct {
	File    string
	Line    int
	Key     string
	Problem string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Key != "" {
		b.WriteString(": ")
		b.WriteString(e.Key)
	}
	b.WriteString(": ")
	b.WriteString(e.Problem)
	return b.String()
}

// Options adjust loading.
type Options struct {
	// Listen, when set, overrides server.listen (the --listen flag).
	Listen string
	// LookupEnv reads the host environment; nil means os.LookupEnv. Values from a
	// .env file next to the config are used for names the environment lacks.
	LookupEnv func(string) (string, bool)
	// ForceProvider, when set, replaces auth.provider (mcphost dev sets "dev").
	ForceProvider string
	// SkipFileChecks skips checking that plugin binaries exist (for tooling that
	// only inspects the config).
	SkipFileChecks bool
}

// EnvPrefix prefixes environment overrides: MCPHOST_SERVER_LISTEN overrides
// server.listen, MCPHOST_PLUGINS_WHOAMI_CALL_TIMEOUT overrides
// plugins.whoami.call_timeout. Lists are comma-separated.
const EnvPrefix = "MCPHOST_"

// Load reads, validates and resolves the config at path. It is the only check:
// `validate` and `serve` both call it, so they refuse exactly the same configs.
// On any problem it returns every one, sorted by line, each an *Error naming the
// file, line and key (see Error), and no Config.
func Load(path string, opts Options) (*Config, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, &Error{File: path, Problem: err.Error()}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is already the error's File
		}
		return nil, &Error{File: path, Problem: "cannot read config: " + err.Error()}
	}
	return load(path, abs, data, opts)
}

// load is Load after reading the file: path names it in errors, abs locates
// relative paths and the .env file.
func load(path, abs string, data []byte, opts Options) (*Config, error) {
	l := &loader{file: path, lookup: opts.LookupEnv, lines: map[string]int{}, envs: map[string]string{}, failed: map[string]bool{}}
	if l.lookup == nil {
		l.lookup = os.LookupEnv
	}
	if errs := l.readDotEnv(filepath.Join(filepath.Dir(abs), ".env")); len(errs) > 0 {
		return nil, joinSorted(errs)
	}

	cfg := defaults()
	cfg.File, cfg.Dir = abs, filepath.Dir(abs)
	// The names the WorkOS SDKs, mcp-use and the workosuser plugin use; the
	// file's own keys win over them.
	for _, e := range []struct {
		name, key string
		to        *string
		emptyOK   bool // an empty value is a value, not "use the default"
	}{
		{"MCP_USE_OAUTH_WORKOS_SUBDOMAIN", "auth.workos.subdomain", &cfg.Auth.WorkOS.Subdomain, true},
		{"WORKOS_API_KEY", "auth.workos.api_key", &cfg.Auth.WorkOS.APIKey, true},
		{"WORKOS_API_BASE_URL", "auth.workos.api_url", &cfg.Auth.WorkOS.APIURL, false},
		{"MCP_URL", "server.public_url", &cfg.Server.PublicURL, true},
	} {
		if v, ok := l.env(e.name); ok && (v != "" || e.emptyOK) {
			*e.to, l.envs[e.key] = v, e.name
		}
	}

	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, yamlError(path, err)
	}
	if len(root.Content) > 0 {
		l.decode(root.Content[0], reflect.ValueOf(cfg).Elem(), "")
	}
	// Validation runs even after a decoding problem, so one run reports every
	// problem; a key that failed to decode keeps its default and is not
	// reported twice (see report).
	l.applyEnv(reflect.ValueOf(cfg).Elem(), "")
	if opts.Listen != "" {
		cfg.Server.Listen, l.envs["server.listen"] = opts.Listen, "--listen"
	}
	if opts.ForceProvider != "" {
		cfg.Auth.Provider, l.envs["auth.provider"] = opts.ForceProvider, "mcphost dev"
	}
	l.validate(cfg, opts)
	if len(l.errs) > 0 {
		return nil, joinSorted(l.errs)
	}
	return cfg, nil
}

// joinSorted joins problems in line order (problems with no line first: they
// concern the whole file or came from the environment), dropping repeats.
func joinSorted(errs []*Error) error {
	slices.SortStableFunc(errs, func(a, b *Error) int { return a.Line - b.Line })
	out := make([]error, 0, len(errs))
	for i, e := range errs {
		if i > 0 && *e == *errs[i-1] {
			continue
		}
		out = append(out, e)
	}
	return errors.Join(out...)
}

// yamlLineRE finds the line yaml.v3 names in a syntax error.
var yamlLineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): `)

// yamlError turns a YAML syntax error into an *Error with its line.
func yamlError(path string, err error) *Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	e := &Error{File: path}
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		msg = msg[len(m[0]):]
	}
	e.Problem = "invalid YAML: " + msg
	return e
}

type loader struct {
	file   string
	lookup func(string) (string, bool)
	dotenv map[string]string
	errs   []*Error
	// lines holds the line of every key the file sets (list items as
	// key[i]); envs the variable (or flag) a key's value came from instead;
	// failed the keys whose value could not be decoded.
	lines  map[string]int
	envs   map[string]string
	failed map[string]bool
}

// fail records a problem at a known line (decoding, where the node is at hand).
func (l *loader) fail(line int, key, format string, args ...any) {
	l.failed[key] = true
	l.errs = append(l.errs, &Error{File: l.file, Line: line, Key: key, Problem: fmt.Sprintf(format, args...)})
}

// report records a problem found after decoding: it names the variable when
// the value came from the environment, else the key's line in the file (or
// the nearest enclosing key's, for a key the file leaves out). A key gets one
// problem: a later one would only follow from the first.
func (l *loader) report(key, format string, args ...any) {
	l.reportAt(key, key, format, args...)
}

// reportAt is report for a problem of key caused by the value of at (such as
// a key that must be set because another one is): the line is at's.
func (l *loader) reportAt(at, key, format string, args ...any) {
	if l.failed[key] || l.failed[at] {
		return
	}
	l.failed[key] = true
	e := &Error{File: l.file, Key: key, Problem: fmt.Sprintf(format, args...)}
	if name, ok := l.envs[key]; ok {
		e.Key += " (from " + name + ")"
	} else if _, ok := l.envs[at]; !ok {
		e.Line = l.lineOf(at)
	}
	l.errs = append(l.errs, e)
}

// lineOf is the line of key, or of its nearest ancestor the file sets.
func (l *loader) lineOf(key string) int {
	for key != "" {
		if n, ok := l.lines[key]; ok {
			return n
		}
		if strings.HasSuffix(key, "]") {
			key = key[:strings.LastIndexByte(key, '[')]
		} else if i := strings.LastIndexByte(key, '.'); i >= 0 {
			key = key[:i]
		} else {
			key = ""
		}
	}
	return 0
}

// env looks a name up in the real environment, then in the .env file.
func (l *loader) env(name string) (string, bool) {
	if v, ok := l.lookup(name); ok {
		return v, true
	}
	v, ok := l.dotenv[name]
	return v, ok
}

// readDotEnv reads the .env file next to the config, if there is one.
func (l *loader) readDotEnv(path string) []*Error {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return []*Error{{File: path, Problem: "cannot read: " + err.Error()}}
	}
	env, errs := parseDotEnv(path, data)
	l.dotenv = env
	return errs
}

// parseDotEnv parses KEY=VALUE lines (optional "export ", quotes, # comments),
// reporting every malformed line of the file named path.
func parseDotEnv(path string, data []byte) (map[string]string, []*Error) {
	env := map[string]string{}
	var errs []*Error
	n := 0
	for raw := range bytes.Lines(data) {
		n++
		line := strings.TrimSpace(string(raw))
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		if !ok || !validEnvName(k) {
			errs = append(errs, &Error{File: path, Line: n, Problem: "expected KEY=VALUE"})
			continue
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') {
			// "quoted" # comment: the comment follows the closing quote.
			if end := strings.IndexByte(v[1:], v[0]) + 1; end > 0 {
				if rest := strings.TrimSpace(v[end+1:]); rest != "" && rest[0] == '#' {
					v = v[:end+1]
				}
			}
		}
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		} else if i := strings.Index(v, " #"); i >= 0 {
			v = strings.TrimSpace(v[:i])
		}
		env[k] = v
	}
	return env, errs
}

var durationType = reflect.TypeOf(time.Duration(0))

// decode walks a YAML node into v, reporting unknown keys and wrong types by key.
func (l *loader) decode(n *yaml.Node, v reflect.Value, key string) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // "key:" with no value keeps the default
	}
	switch {
	case v.Kind() == reflect.Struct:
		if n.Kind != yaml.MappingNode {
			l.fail(n.Line, key, "expected a mapping of keys")
			return
		}
		fields := structFields(v)
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			if l.duplicate(seen, k, key) {
				continue
			}
			f, ok := fields[k.Value]
			if !ok {
				l.fail(k.Line, join(key, k.Value), "unknown key (known: %s)", strings.Join(slices.Sorted(maps.Keys(fields)), ", "))
				continue
			}
			l.setBy(join(key, k.Value), k.Line, val)
			l.decode(val, f, join(key, k.Value))
		}
	case v.Kind() == reflect.Map:
		if n.Kind != yaml.MappingNode {
			l.fail(n.Line, key, "expected a mapping")
			return
		}
		if v.IsNil() {
			v.Set(reflect.MakeMap(v.Type()))
		}
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			if l.duplicate(seen, k, key) {
				continue
			}
			l.setBy(join(key, k.Value), k.Line, val)
			elem := reflect.New(v.Type().Elem()).Elem()
			if elem.Kind() == reflect.Pointer {
				elem.Set(newEntry(v.Type().Elem(), k.Value))
				l.decode(val, elem.Elem(), join(key, k.Value))
			} else {
				l.decode(val, elem, join(key, k.Value))
			}
			v.SetMapIndex(reflect.ValueOf(k.Value), elem)
		}
	case v.Kind() == reflect.Slice:
		if n.Kind == yaml.ScalarNode { // a single value or a comma list is a one-element list
			l.setFromString(n.Line, v, key, n.Value)
			return
		}
		if n.Kind != yaml.SequenceNode {
			l.fail(n.Line, key, "expected a list")
			return
		}
		out := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			l.lines[fmt.Sprintf("%s[%d]", key, i)] = item.Line
			if item.Kind != yaml.ScalarNode {
				l.fail(item.Line, fmt.Sprintf("%s[%d]", key, i), "expected a string")
				continue
			}
			out.Index(i).SetString(item.Value)
		}
		v.Set(out)
	default:
		if n.Kind != yaml.ScalarNode {
			l.fail(n.Line, key, "expected a single value")
			return
		}
		l.setFromString(n.Line, v, key, n.Value)
	}
}

// setBy notes that the file sets key on line: its problems are reported
// there, and its value (unless empty) overrides any from the environment.
func (l *loader) setBy(key string, line int, val *yaml.Node) {
	l.lines[key] = line
	if val.Kind != yaml.ScalarNode || val.Tag != "!!null" {
		delete(l.envs, key)
	}
}

// duplicate reports a key given twice in one mapping (YAML forbids it, and the
// walker would otherwise let the second silently win or merge).
func (l *loader) duplicate(seen map[string]int, k *yaml.Node, key string) bool {
	if first, ok := seen[k.Value]; ok {
		l.fail(k.Line, join(key, k.Value), "duplicate key (first on line %d)", first)
		return true
	}
	seen[k.Value] = k.Line
	return false
}

// newEntry makes a map entry with its defaults (plugins get plugin defaults).
func newEntry(t reflect.Type, name string) reflect.Value {
	if t == reflect.TypeOf(&Plugin{}) {
		return reflect.ValueOf(pluginDefaults(name))
	}
	return reflect.New(t.Elem())
}

// setFromString parses a scalar (from YAML or an environment variable) into v.
func (l *loader) setFromString(line int, v reflect.Value, key, s string) {
	switch {
	case v.Type() == durationType:
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil || d < 0 {
			l.fail(line, key, "%q is not a duration (use for example 500ms, 30s, 2m)", s)
			return
		}
		v.SetInt(int64(d))
	case v.Kind() == reflect.String:
		v.SetString(s)
	case v.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			l.fail(line, key, "%q is not true or false", s)
			return
		}
		v.SetBool(b)
	case v.Kind() == reflect.Int || v.Kind() == reflect.Int64:
		i, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			l.fail(line, key, "%q is not a whole number", s)
			return
		}
		v.SetInt(i)
	case v.Kind() == reflect.Float64:
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			l.fail(line, key, "%q is not a number", s)
			return
		}
		v.SetFloat(f)
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.String:
		var items []string
		for _, p := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' }) {
			if p = strings.TrimSpace(p); p != "" {
				items = append(items, p)
			}
		}
		v.Set(reflect.ValueOf(items))
	default:
		l.fail(line, key, "expected a mapping, not a single value")
	}
}

// applyEnv overrides every leaf that has an MCPHOST_ variable set.
func (l *loader) applyEnv(v reflect.Value, key string) {
	switch {
	case v.Kind() == reflect.Struct:
		for name, f := range structFields(v) {
			l.applyEnv(f, join(key, name))
		}
	case v.Kind() == reflect.Map && v.Type().Elem().Kind() == reflect.Pointer:
		for _, k := range v.MapKeys() {
			l.applyEnv(v.MapIndex(k).Elem(), join(key, k.String()))
		}
	case v.Kind() == reflect.Map:
		// env maps are values, not settings: not overridable one by one
	default:
		name := EnvVarFor(key)
		if s, ok := l.env(name); ok {
			n := len(l.errs)
			l.setFromString(0, v, key+" (from "+name+")", s)
			if len(l.errs) > n {
				l.failed[key] = true
			} else {
				l.envs[key] = name
			}
		}
	}
}

// EnvVarFor is the environment variable that overrides a config key.
func EnvVarFor(key string) string {
	r := strings.NewReplacer(".", "_", "-", "_")
	return EnvPrefix + strings.ToUpper(r.Replace(key))
}

// structFields maps yaml names to settable fields, flattening ",inline" structs.
func structFields(v reflect.Value) map[string]reflect.Value {
	out := map[string]reflect.Value{}
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		tag := t.Field(i).Tag.Get("yaml")
		name, opt, _ := strings.Cut(tag, ",")
		switch {
		case name == "-" || !t.Field(i).IsExported():
		case opt == "inline":
			for k, f := range structFields(v.Field(i)) {
				out[k] = f
			}
		default:
			out[name] = v.Field(i)
		}
	}
	return out
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

func validEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if !(r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}
