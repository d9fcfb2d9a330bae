package host

import "github.com/mcphost/mcphost/supervisor"

// The supervisor's status vocabulary, under the names the host's API (and
// its /readyz, metrics and admin output) has always used.
type (
	PluginStatus = supervisor.Status
	PluginState  = supervisor.State
)

const (
	StateStarting   = supervisor.StateStarting
	StateRunning    = supervisor.StateRunning
	StateRestarting = supervisor.StateRestarting
	StateFailed     = supervisor.StateFailed
	StateStopped    = supervisor.StateStopped
)

// DataDirEnv names the environment variable that gives a plugin its own data
// directory.
const DataDirEnv = supervisor.DataDirEnv
