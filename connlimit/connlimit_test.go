package connlimit

import (
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"
)

// serve accepts on a capped 127.0.0.1:0 listener and hands out what it accepts.
func serve(t *testing.T, o Options) (*Listener, <-chan net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := Wrap(ln, o)
	t.Cleanup(func() { _ = l.Close() })
	accepted := make(chan net.Conn, 64)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	return l, accepted
}

func dial(t *testing.T, l *Listener) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// refusedDial dials l and reports that the connection was ended at once (a
// reset may even reach the dial itself).
func refusedDial(t *testing.T, l *Listener) bool {
	t.Helper()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		return true
	}
	defer c.Close()
	return refusedNow(t, c)
}

// refusedNow reports that the server ended c without a byte: the read returns
// EOF or a reset, not a timeout.
func refusedNow(t *testing.T, c net.Conn) bool {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

func TestPerIPCap(t *testing.T) {
	refusals := make(chan string, 8)
	l, accepted := serve(t, Options{Max: 100, PerIP: 2, OnRefuse: func(_ netip.Addr, limit string) { refusals <- limit }})
	dial(t, l)
	dial(t, l)
	first := <-accepted
	<-accepted
	if !refusedDial(t, l) {
		t.Fatal("a third connection from one address was not closed")
	}
	if limit := <-refusals; limit != "per_ip" || l.Refused() != 1 || l.Open() != 2 {
		t.Fatalf("refused %d (%s), open %d; want 1 per_ip refusal and 2 open", l.Refused(), limit, l.Open())
	}
	// Closing one gives its place back.
	_ = first.Close()
	_ = first.Close() // twice counts once
	dial(t, l)
	select {
	case <-accepted:
	case <-time.After(5 * time.Second):
		t.Fatal("a connection after one closed was not accepted")
	}
	if l.Open() != 2 {
		t.Fatalf("open = %d after close and reaccept, want 2 (one close counted twice?)", l.Open())
	}
}

func TestTotalCap(t *testing.T) {
	l, accepted := serve(t, Options{Max: 3})
	for range 3 {
		dial(t, l)
		<-accepted
	}
	if !refusedDial(t, l) {
		t.Fatal("a connection over the total cap was not closed")
	}
	if l.Open() != 3 {
		t.Fatalf("open = %d, want 3", l.Open())
	}
}

// A trusted proxy carries many clients: it is not capped per address, but
// still counts toward the total.
func TestExemptPeers(t *testing.T) {
	l, accepted := serve(t, Options{Max: 4, PerIP: 1, Exempt: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	for range 4 {
		dial(t, l)
		<-accepted
	}
	if !refusedDial(t, l) {
		t.Fatal("an exempt peer went past the total cap")
	}
}

func TestRefusedConnectionIsNotRead(t *testing.T) {
	l, _ := serve(t, Options{Max: 1})
	dial(t, l)
	eventually(t, func() bool { return l.Open() == 1 })
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		return // reset during the handshake: refused
	}
	defer c.Close()
	_, _ = c.Write([]byte("POST / HTTP/1.1\r\nContent-Length: 100000\r\n\r\n"))
	if !refusedNow(t, c) {
		t.Fatal("over-cap connection stayed open")
	}
}

func TestIPv6CountedBy64(t *testing.T) {
	l := Wrap(nil, Options{PerIP: 1})
	a := fakeConn{remote: &net.TCPAddr{IP: net.ParseIP("2001:db8:1:2::1"), Port: 1}}
	b := fakeConn{remote: &net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:ffff::9"), Port: 2}}
	c := fakeConn{remote: &net.TCPAddr{IP: net.ParseIP("2001:db8:1:3::1"), Port: 3}}
	if _, ok := l.admit(a); !ok {
		t.Fatal("first address refused")
	}
	if _, ok := l.admit(b); ok {
		t.Fatal("another address of the same /64 was not counted with the first")
	}
	if _, ok := l.admit(c); !ok {
		t.Fatal("an address of another /64 was refused")
	}
}

func TestWithin(t *testing.T) {
	for _, tc := range []struct {
		configured int
		limit      uint64
		want       int
		reserve    int
	}{
		{4096, 0, 4096, 0},     // unknown limit
		{4096, 1024, 896, 128}, // lowered limit: room for plugins kept
		{100, 1024, 100, 128},  // configured below the room
		{4096, 1 << 20, 4096, 131072},
		{4096, 100, 1, 128}, // absurdly low limit: still serves
	} {
		got, reserve := Within(tc.configured, tc.limit)
		if got != tc.want || reserve != tc.reserve {
			t.Errorf("Within(%d, %d) = %d, %d; want %d, %d", tc.configured, tc.limit, got, reserve, tc.want, tc.reserve)
		}
	}
}

func TestRaiseFileLimit(t *testing.T) {
	soft, err := RaiseFileLimit()
	if err != nil {
		t.Fatal(err)
	}
	if soft == 0 || FileLimit() != soft {
		t.Fatalf("soft limit %d, FileLimit %d", soft, FileLimit())
	}
}

type fakeConn struct {
	net.Conn
	remote net.Addr
}

func (f fakeConn) RemoteAddr() net.Addr { return f.remote }

func eventually(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
