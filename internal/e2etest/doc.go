// Package e2etest holds the plumbing the end-to-end tests under e2e/ share:
// installing their pinned npm packages, finding a recent enough Node.js,
// building mcphost and its plugins, and running servers in the background
// with their output in the test log. It exists so that each e2e test package
// keeps only what it tests, not another copy of this setup.
package e2etest

import "time"

// Generous bounds: these only decide when to give up, nothing asserts on time.
const (
	installTimeout = 5 * time.Minute
	buildTimeout   = 5 * time.Minute
	readyTimeout   = 90 * time.Second
)
