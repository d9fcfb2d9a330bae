package config

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
)

// validateSandbox checks plugins.<name>.sandbox, sandbox_read, sandbox_write
// and user, making the paths absolute and resolving the user.
func (l *loader) validateSandbox(c *Config, p *Plugin, opts Options) {
	key := "plugins." + p.Name
	switch strings.ToLower(strings.TrimSpace(p.Sandbox)) {
	case "", "on", "true":
		p.Sandbox = "" // the default, so a config that says it compares equal to one that does not
	case "off", "false":
		p.Sandbox = "off"
	default:
		l.report(key+".sandbox", "%q is not on or off", p.Sandbox)
	}
	own := filepath.Join(c.DataDir, "plugins", p.Name)
	for _, list := range []struct {
		name  string
		paths []string
	}{{"sandbox_read", p.SandboxRead}, {"sandbox_write", p.SandboxWrite}} {
		for i, raw := range list.paths {
			k := fmt.Sprintf("%s.%s[%d]", key, list.name, i)
			if strings.TrimSpace(raw) == "" {
				l.report(k, "must not be empty")
				continue
			}
			path := c.abs(raw)
			list.paths[i] = path
			if problem := c.hostPrivate(path, own); problem != "" {
				l.report(k, "%s %s; name a narrower path", path, problem)
				continue
			}
			if !opts.SkipFileChecks && !within(path, own) { // the host makes its own data directory
				if _, err := os.Stat(path); err != nil {
					l.report(k, "%s: %v (the sandbox can only allow a path that exists when the plugin starts)", path, errors.Unwrap(err))
				}
			}
		}
	}
	if p.User != "" {
		acct, err := lookupAccount(p.User)
		switch {
		case err != nil:
			l.report(key+".user", "%v", err)
		case os.Geteuid() != 0:
			l.report(key+".user", "running the plugin as user %s needs mcphost to run as root, and it runs as uid %d: start it as root or drop the key", p.User, os.Geteuid())
		default:
			p.RunAs = acct
		}
	}
}

// hostPrivate says why path may not be opened to a plugin: it holds, or is
// inside, what the sandbox keeps from plugins (other plugins' data, the dev
// issuer's signing key, the config and its secrets). "" when it may.
func (c *Config) hostPrivate(path, ownData string) string {
	if within(path, ownData) {
		return "" // the plugin's own data directory, already allowed
	}
	private := []struct{ path, what string }{
		{c.DataDir, "data_dir (every plugin's data and the dev issuer's signing key)"},
		{c.File, "the config file"},
		{filepath.Join(c.Dir, ".env"), "the config's .env"},
	}
	if c.Server.StateSecretFile != "" {
		private = append(private, struct{ path, what string }{c.abs(c.Server.StateSecretFile), "server.state_secret_file"})
	}
	if out := c.Audit.Output; out != "stdout" && out != "stderr" && out != "" {
		private = append(private, struct{ path, what string }{out, "the audit log"})
	}
	for _, pr := range private {
		if within(pr.path, path) {
			return "contains " + pr.what
		}
	}
	if within(path, c.DataDir) {
		return "is inside data_dir, where other plugins keep their data (a plugin's own directory, " + ownData + ", is always allowed)"
	}
	return ""
}

// within reports whether path is dir or beneath it.
func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// lookupAccount resolves a user name or uid. A uid this machine has no entry
// for (common in containers) runs with the group of the same number.
func lookupAccount(name string) (*Account, error) {
	if uid, err := strconv.Atoi(name); err == nil {
		if uid < 0 {
			return nil, fmt.Errorf("%q is not a user name or uid", name)
		}
		u, err := user.LookupId(name)
		if err != nil {
			return &Account{UID: uid, GID: uid}, nil
		}
		return account(u)
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("no user %q on this machine (give a name from /etc/passwd or a numeric uid)", name)
	}
	return account(u)
}

// account reads a user's ids. Unix ids are numbers; the check only makes
// sure a surprise never turns into uid 0.
func account(u *user.User) (*Account, error) {
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("user %s has ids %q/%q that are not numbers", u.Username, u.Uid, u.Gid)
	}
	return &Account{UID: uid, GID: gid}, nil
}
