package supervisor

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/hashicorp/go-plugin"

	"github.com/mcphost/mcphost/config"
	"github.com/mcphost/mcphost/sandbox"
)

// ProtectHost makes this process non-dumpable (its environment and memory
// closed to plugins of the same user) and says once what the plugin sandbox
// enforces for plugins. cmd/mcphost does the former at process start as well;
// here it covers every embedding of the host.
func ProtectHost(log *slog.Logger, plugins []*config.Plugin) {
	if err := sandbox.ProtectSelf(); err != nil {
		log.Warn("cannot make the host non-dumpable; plugins of the same user can read its environment", "error", err)
	}
	var sandboxed []string
	for _, p := range plugins {
		if p.Sandboxed() {
			sandboxed = append(sandboxed, p.Name)
		}
	}
	if len(sandboxed) == 0 {
		return
	}
	abi, err := sandbox.ABI()
	if err != nil {
		// Once, at start: pluginCommand consults the same (cached) answer and
		// starts these plugins, and their restarts, unconfined.
		log.Warn("plugin sandbox unavailable: plugins run unsandboxed", "error", err, "plugins", sandboxed)
		return
	}
	log.Info("plugin sandbox enforced with Landlock", "abi", abi, "plugins", sandboxed)
}

// pluginCommand builds the command that starts plugin p: its environment and
// process attributes, the user it runs as, and, unless its sandbox is off
// (or the kernel has none), the Landlock trampoline. cleanup removes what it
// made for the process once the process is gone.
func pluginCommand(proc context.Context, p *config.Plugin, dataDir, pluginData string) (cmd *exec.Cmd, cleanup func(), err error) {
	cmd = exec.CommandContext(proc, p.Path, p.Args...)
	cmd.Dir = filepath.Dir(p.Path)
	cmd.Env = pluginEnv(p, pluginData)
	setProcessAttrs(cmd)
	cleanup = func() {}
	if p.RunAs != nil {
		if err := giveDataDir(p, dataDir, pluginData); err != nil {
			return nil, nil, err
		}
		if err := sandbox.RunAs(cmd, p.RunAs.UID, p.RunAs.GID); err != nil {
			return nil, nil, fmt.Errorf("plugins.%s.user: %w", p.Name, err)
		}
	}
	if !p.Sandboxed() {
		return cmd, cleanup, nil
	}
	if _, err := sandbox.ABI(); err != nil {
		return cmd, cleanup, nil // Start warned that plugins run unsandboxed
	}
	// go-plugin servers put their unix socket in PLUGIN_UNIX_SOCKET_DIR, else
	// in /tmp, which the sandbox does not open: a private one, short enough
	// for a socket path.
	sock, err := os.MkdirTemp("", "mcphost-plugin-")
	if err != nil {
		return nil, nil, fmt.Errorf("sandbox socket directory: %w", err)
	}
	cleanup = func() { os.RemoveAll(sock) }
	if p.RunAs != nil {
		if err := os.Chown(sock, p.RunAs.UID, p.RunAs.GID); err != nil {
			cleanup()
			return nil, nil, fmt.Errorf("sandbox socket directory: %w", err)
		}
	}
	cmd.Env = append(cmd.Env, plugin.EnvUnixSocketDir+"="+sock)
	pol := sandbox.Policy{
		Read:  append(sandbox.Existing(sandbox.SystemRead), p.Path),
		Write: append(sandbox.Existing(sandbox.SystemWrite), pluginData, sock),
	}
	pol.Read = append(pol.Read, sandbox.Interpreters(p.Path)...)
	pol.Read = append(pol.Read, argFiles(p.Args, cmd.Dir, dataDir, pluginData)...)
	pol.Read = append(pol.Read, p.SandboxRead...)
	pol.Write = append(pol.Write, p.SandboxWrite...)
	if err := sandbox.Wrap(cmd, pol); err != nil {
		cleanup()
		return nil, nil, err
	}
	return cmd, cleanup, nil
}

// argFiles are the arguments that name existing regular files (a script an
// interpreter plugin runs, a config file it reads): the plugin may read them.
// Directories are never opened this way, nor anything in data_dir but the
// plugin's own directory.
func argFiles(args []string, dir, dataDir, own string) []string {
	var out []string
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			continue
		}
		if !filepath.IsAbs(a) {
			a = filepath.Join(dir, a)
		}
		if st, err := os.Stat(a); err != nil || !st.Mode().IsRegular() {
			continue
		}
		if inside(a, dataDir) && !inside(a, own) {
			continue
		}
		out = append(out, a)
	}
	return out
}

func inside(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// giveDataDir hands the plugin's data directory to the user it runs as, and
// lets that user pass through data_dir and data_dir/plugins (o+x, no
// listing). Every directory above must already let it through.
func giveDataDir(p *config.Plugin, dataDir, pluginData string) error {
	uid, gid := p.RunAs.UID, p.RunAs.GID
	for _, d := range []string{dataDir, filepath.Dir(pluginData)} {
		st, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("plugins.%s.user: %w", p.Name, err)
		}
		if err := os.Chmod(d, st.Mode().Perm()|0o001); err != nil {
			return fmt.Errorf("plugins.%s.user: %w", p.Name, err)
		}
	}
	if d := blocked(filepath.Dir(dataDir), uid, gid); d != "" {
		return fmt.Errorf("plugins.%s.user: user %s (uid %d) cannot reach its data directory %s: %s does not let it through (chmod o+x %s, or choose another data_dir)", p.Name, p.User, uid, pluginData, d, d)
	}
	// The plugin starts in its binary's directory.
	if d := blocked(filepath.Dir(p.Path), uid, gid); d != "" {
		return fmt.Errorf("plugins.%s.user: user %s (uid %d) cannot reach the plugin's directory %s: %s does not let it through (chmod o+x %s, or install the plugin elsewhere)", p.Name, p.User, uid, filepath.Dir(p.Path), d, d)
	}
	err := filepath.WalkDir(pluginData, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, uid, gid)
	})
	if err != nil {
		return fmt.Errorf("plugins.%s.user: data directory: %w", p.Name, err)
	}
	return nil
}

// blocked is the first directory from dir up to / that uid cannot pass, or "".
func blocked(dir string, uid, gid int) string {
	for d := dir; ; d = filepath.Dir(d) {
		if !traversable(d, uid, gid) {
			return d
		}
		if d == filepath.Dir(d) {
			return ""
		}
	}
}
