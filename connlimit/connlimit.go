// Package connlimit caps the connections a listener hands out: in total, and
// per client address. A connection over a cap is closed as soon as it is
// accepted, before a byte of it is read, so a flood costs one descriptor for
// a moment rather than one for as long as the client likes.
package connlimit

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
)

// Options configure a Listener.
type Options struct {
	// Max caps open connections in total (0: no cap).
	Max int
	// PerIP caps the open connections of one TCP peer (0: no cap). IPv6 peers
	// are counted by their /64, the block one client usually holds.
	PerIP int
	// Exempt peers (trusted proxies, which carry many clients) are not
	// capped per address; they still count toward Max.
	Exempt []netip.Prefix
	// OnRefuse, if set, is told of each refused connection and which cap
	// refused it ("total" or "per_ip"). It runs on the accept loop: keep it cheap.
	OnRefuse func(peer netip.Addr, limit string)
}

// Listener is a net.Listener that enforces Options.
type Listener struct {
	net.Listener
	o Options

	mu    sync.Mutex
	total int
	perIP map[netip.Addr]int

	refused atomic.Uint64
}

// Wrap returns ln with the caps of o.
func Wrap(ln net.Listener, o Options) *Listener {
	return &Listener{Listener: ln, o: o, perIP: map[netip.Addr]int{}}
}

// Accept returns the next connection within the caps; those over a cap are
// closed here and never returned.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key, ok := l.admit(c)
		if ok {
			return &conn{Conn: c, l: l, key: key}, nil
		}
		if tc, ok := c.(*net.TCPConn); ok {
			// Reset rather than linger: the descriptor and the socket go now.
			_ = tc.SetLinger(0)
		}
		_ = c.Close()
	}
}

// admit counts c in, or reports that a cap refuses it.
func (l *Listener) admit(c net.Conn) (netip.Addr, bool) {
	peer := peerAddr(c.RemoteAddr())
	key := peer
	if l.o.PerIP <= 0 || !peer.IsValid() || l.exempt(peer) {
		key = netip.Addr{} // not counted per address
	} else if key.Is6() {
		key = netip.PrefixFrom(key, 64).Masked().Addr()
	}
	l.mu.Lock()
	limit := ""
	switch {
	case l.o.Max > 0 && l.total >= l.o.Max:
		limit = "total"
	case key.IsValid() && l.perIP[key] >= l.o.PerIP:
		limit = "per_ip"
	default:
		l.total++
		if key.IsValid() {
			l.perIP[key]++
		}
	}
	l.mu.Unlock()
	if limit != "" {
		l.refused.Add(1)
		if l.o.OnRefuse != nil {
			l.o.OnRefuse(peer, limit)
		}
		return key, false
	}
	return key, true
}

func (l *Listener) exempt(a netip.Addr) bool {
	for _, p := range l.o.Exempt {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func (l *Listener) release(key netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if key.IsValid() {
		if l.perIP[key]--; l.perIP[key] <= 0 {
			delete(l.perIP, key)
		}
	}
}

// Open reports the connections open now.
func (l *Listener) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total
}

// Refused reports how many connections the caps have refused.
func (l *Listener) Refused() uint64 { return l.refused.Load() }

func peerAddr(a net.Addr) netip.Addr {
	if ta, ok := a.(*net.TCPAddr); ok {
		ip, _ := netip.AddrFromSlice(ta.IP)
		return ip.Unmap()
	}
	if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

// conn gives its place back once, however often it is closed.
type conn struct {
	net.Conn
	l    *Listener
	key  netip.Addr
	once sync.Once
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.key) })
	return err
}
