package main

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// outcome is what became of one request.
type outcome int

const (
	outOK outcome = iota
	// outPluginErr: a tool error (or JSON-RPC error) naming a plugin, which
	// the host answers while that plugin is killed or restarting. An answer.
	outPluginErr
	// outBadOK: a bad request answered with the status and error it deserves.
	outBadOK
	// outWrong: an answer, but not the right one (another status, error or
	// content; a session the host forgot).
	outWrong
	// outLost: no answer: a transport error, nothing by the deadline, or a
	// response that is not a JSON-RPC answer to the request.
	outLost
	numOutcomes
)

// maxKinds bounds the distinct messages kept per outcome.
const maxKinds = 12

// soakStats counts what the clients saw. Counters are read by the sampler
// while clients add to them.
type soakStats struct {
	counts [numOutcomes]atomic.Int64

	mu         sync.Mutex
	ops        map[string]*[numOutcomes]int64
	msgs       [numOutcomes]map[string]int // lost and wrong messages, by kind
	pluginErrs map[string]int              // by the plugin named

	progress, logs, listChanged           atomic.Int64
	sessOpened, sessClosed, sessAbandoned atomic.Int64
	streamsDropped, reconnects, floodOpen atomic.Int64
}

// add records one request's outcome; detail is the plugin an outPluginErr
// names, or what was wrong or lost.
func (st *soakStats) add(op string, o outcome, detail string) {
	st.counts[o].Add(1)
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.ops == nil {
		st.ops = map[string]*[numOutcomes]int64{}
		st.pluginErrs = map[string]int{}
	}
	c := st.ops[op]
	if c == nil {
		c = new([numOutcomes]int64)
		st.ops[op] = c
	}
	c[o]++
	switch o {
	case outPluginErr:
		st.pluginErrs[detail]++
	case outLost, outWrong:
		if st.msgs[o] == nil {
			st.msgs[o] = map[string]int{}
		}
		k := op + ": " + detail
		if len(k) > 240 {
			k = k[:240] + "..."
		}
		if _, ok := st.msgs[o][k]; !ok && len(st.msgs[o]) >= maxKinds {
			k = "(other messages)"
		}
		st.msgs[o][k]++
	}
}

// kinds lists the messages of outcome o, most frequent first.
func (st *soakStats) kinds(o outcome) string {
	st.mu.Lock()
	defer st.mu.Unlock()
	return countsList(st.msgs[o], "; ")
}

func (st *soakStats) pluginErrSummary() string {
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.pluginErrs) == 0 {
		return "none"
	}
	return countsList(st.pluginErrs, ", ")
}

// opSummary lists the requests made, by operation, with what was not ok.
func (st *soakStats) opSummary() string {
	st.mu.Lock()
	defer st.mu.Unlock()
	names := make([]string, 0, len(st.ops))
	for n := range st.ops {
		names = append(names, n)
	}
	sort.Strings(names)
	var parts []string
	for _, n := range names {
		c := st.ops[n]
		var total int64
		for _, v := range c {
			total += v
		}
		part := fmt.Sprintf("%s %d", n, total)
		var notOK []string
		for o, label := range []string{"", "plugin-err", "", "wrong", "lost"} {
			if label != "" && c[o] > 0 {
				notOK = append(notOK, fmt.Sprintf("%s %d", label, c[o]))
			}
		}
		if len(notOK) > 0 {
			part += " (" + strings.Join(notOK, ", ") + ")"
		}
		parts = append(parts, part)
	}
	return strings.Join(parts, ", ")
}

// countsList is "k x3, j x1", most frequent first.
func countsList(m map[string]int, sep string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s x%d", k, m[k])
	}
	return strings.Join(parts, sep)
}
