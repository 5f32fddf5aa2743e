package server

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"opencen/internal/rpc"
)

// serveLimited runs h behind the HTTP limits on a loopback port.
func serveLimited(t *testing.T, h http.Handler, l Limits) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs, ln := httpServer(ln, h, l.withDefaults())
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })
	return "http://" + ln.Addr().String()
}

func refusedUnavailable(t *testing.T, resp *http.Response, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Code, Message, RequestId string }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 503 || body.Code != "ServiceUnavailable" || body.RequestId == "" {
		t.Fatalf("want a 503 ServiceUnavailable envelope, got %d %+v", resp.StatusCode, body)
	}
}

// TestRequestsInFlightCapped: beyond MaxRequests, a request waits for a slot until its read
// time is up, then gets ServiceUnavailable; once a slot frees, requests are served again.
func TestRequestsInFlightCapped(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 2)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/block" {
			entered <- struct{}{}
			<-release
		}
		io.WriteString(w, "ok")
	})
	url := serveLimited(t, h, Limits{MaxRequests: 2, ReadTimeout: 300 * time.Millisecond})
	for range 2 {
		go func() {
			if resp, err := http.Get(url + "/block"); err == nil {
				resp.Body.Close()
			}
		}()
		<-entered
	}
	resp, err := http.Get(url + "/other")
	refusedUnavailable(t, resp, err)
	close(release)
	resp, err = http.Get(url + "/other")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("after the slots freed: %v %v", resp, err)
	}
	resp.Body.Close()
}

// TestBodyBytesInFlightCapped: request bodies being held share MaxBodyBytes; a request
// that does not fit waits, then gets ServiceUnavailable, while requests without a body pass.
func TestBodyBytesInFlightCapped(t *testing.T) {
	holding, release := make(chan struct{}), make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		if r.URL.Path == "/hold" {
			holding <- struct{}{}
			<-release
		}
		fmt.Fprint(w, n)
	})
	url := serveLimited(t, h, Limits{MaxBodyBytes: rpc.MaxBodyBytes, ReadTimeout: 500 * time.Millisecond})
	post := func(path string, n int) (*http.Response, error) {
		return http.Post(url+path, "text/plain", strings.NewReader(strings.Repeat("y", n)))
	}
	held := make(chan error, 1)
	go func() {
		resp, err := post("/hold", 3<<20) // 3 of the 4 MiB, until released
		if err == nil {
			resp.Body.Close()
		}
		held <- err
	}()
	<-holding
	start := time.Now()
	resp, err := post("/", 2<<20)
	refusedUnavailable(t, resp, err)
	if waited := time.Since(start); waited < 400*time.Millisecond {
		t.Fatalf("refused after %v, before waiting for room", waited)
	}
	if resp, err := http.Get(url); err != nil || resp.StatusCode != 200 {
		t.Fatalf("a request without a body: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	close(release)
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	resp, err = post("/", 2<<20)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("after the room was released: %v %v", resp, err)
	}
	resp.Body.Close()
}

// TestConnectionsCapped: beyond MaxConnections a new connection is not served until an
// open one closes.
func TestConnectionsCapped(t *testing.T) {
	url := serveLimited(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }), Limits{MaxConnections: 1})
	addr := strings.TrimPrefix(url, "http://")
	first, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(first, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	buf := make([]byte, 512)
	if _, err := first.Read(buf); err != nil {
		t.Fatal(err)
	}
	second, err := net.Dial("tcp", addr) // accepted by the kernel, not by the server
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	fmt.Fprintf(second, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	second.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if n, err := second.Read(buf); err == nil {
		t.Fatalf("a second connection was served beside the first: %q", buf[:n])
	}
	first.Close()
	second.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := second.Read(buf); err != nil || !strings.HasPrefix(string(buf[:n]), "HTTP/1.1 200") {
		t.Fatalf("after the first closed: %q %v", buf[:n], err)
	}
}
