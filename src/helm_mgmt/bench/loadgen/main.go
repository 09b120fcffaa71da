// Command loadgen keeps a steady, open-loop load on one or more URLs from inside the cluster and
// counts every outcome: each request has a 5 s timeout and is never retried, so a refused or reset
// connection, a timeout and any non-2xx answer is one failure. It reports per second, so that a
// benchmark can plot failures and latency against the moments a rollout started and ended.
//
//	loadgen run STREAMS_JSON [WAIT]
//	                           with WAIT (a duration), first wait at most that long until every
//	                           target takes a TCP connection (not counted: a NetworkPolicy engine
//	                           admits a new pod's address a moment after it starts); print "loading"
//	                           to stderr, load until the stop file (/tmp/stop) exists, then print
//	                           the result as JSON; STREAMS_JSON "-" reads it from standard input
//	                           (a stream's headers may hold a session token, which arguments
//	                           would show in the node's process list)
//	loadgen stop               create the stop file
//	loadgen idle               wait for SIGTERM (a pod to exec runs into)
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// errRetried marks a request Go's HTTP client sent twice: it silently retries an idempotent request
// when the server closed the kept-alive connection first. The standard here is no retries, so the
// first attempt counts as a failure even when the second succeeds.
var errRetried = errors.New("connection reset: the server closed the kept-alive connection; the HTTP client retried")

// stopFile ends a run; LOADGEN_STOP_FILE names another (tests outside a pod use their own).
var stopFile = func() string {
	if path := os.Getenv("LOADGEN_STOP_FILE"); path != "" {
		return path
	}
	return "/tmp/stop"
}()

// Stream is one load: a URL at a rate, over kept-alive connections or a new one per request.
type Stream struct {
	Name      string `json:"name"`
	URL       string `json:"url"`
	Rate      int    `json:"rate"`
	KeepAlive bool   `json:"keepalive"`
	// SpreadClients gives every request its own X-Forwarded-For address (10.128.0.0/9, in turn),
	// for an application that limits and bans per client address and takes it from that header.
	SpreadClients bool `json:"spread_clients"`
	// Headers are sent with every request (a session's Authorization, say).
	Headers map[string]string `json:"headers,omitempty"`
	// CA is the PEM of the only authority an https URL's certificate is checked against.
	CA string `json:"ca,omitempty"`
}

// transport keeps connections alive or not, and trusts only the stream's CA when it names one.
func transport(s Stream) (*http.Transport, error) {
	t := &http.Transport{DisableKeepAlives: !s.KeepAlive, MaxIdleConnsPerHost: 256}
	if s.CA != "" {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(s.CA)) {
			return nil, fmt.Errorf("stream %s: ca holds no PEM certificate", s.Name)
		}
		t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return t, nil
}

var nextClient atomic.Uint32

// clientAddress is the next address of 10.128.0.0/9 (8 million, then it wraps).
func clientAddress() string {
	n := nextClient.Add(1) & 0x7fffff
	return fmt.Sprintf("10.%d.%d.%d", 128|(n>>16), (n>>8)&0xff, n&0xff)
}

type second struct {
	OK        int       `json:"ok"`
	Fail      int       `json:"fail"`
	latencies []float64 // milliseconds, successful requests only
	P99       float64   `json:"p99_ms"`
}

type tally struct {
	mu       sync.Mutex
	started  time.Time
	OK       int            `json:"ok"`
	Fail     int            `json:"fail"`
	Errors   map[string]int `json:"errors"`
	Statuses map[string]int `json:"statuses"`
	Samples  []string       `json:"samples"`
	Seconds  []*second      `json:"per_second"`
	P50      float64        `json:"p50_ms"`
	P99      float64        `json:"p99_ms"`
	all      []float64
}

func newTally(started time.Time) *tally {
	return &tally{started: started, Errors: map[string]int{}, Statuses: map[string]int{}}
}

func (t *tally) add(sent time.Time, status int, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	idx := int(sent.Sub(t.started) / time.Second)
	for len(t.Seconds) <= idx {
		t.Seconds = append(t.Seconds, &second{})
	}
	s := t.Seconds[idx]
	switch {
	case err != nil:
		t.Fail++
		s.Fail++
		t.Errors[classify(err)]++
		if len(t.Samples) < 20 {
			t.Samples = append(t.Samples, sent.UTC().Format("15:04:05.000")+" "+err.Error())
		}
	case status >= 200 && status < 300:
		t.OK++
		s.OK++
		ms := float64(time.Since(sent).Microseconds()) / 1000
		s.latencies = append(s.latencies, ms)
		t.all = append(t.all, ms)
	default:
		t.Fail++
		s.Fail++
		t.Statuses[strconv.Itoa(status)]++
	}
}

// percentile of sorted latencies (nearest rank); 0 when there are none.
func percentile(sorted []float64, p int) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[(len(sorted)*p-1)/100]
}

func (t *tally) finish() {
	for _, s := range t.Seconds {
		sort.Float64s(s.latencies)
		s.P99 = percentile(s.latencies, 99)
	}
	sort.Float64s(t.all)
	t.P50, t.P99 = percentile(t.all, 50), percentile(t.all, 99)
}

func classify(err error) string {
	var netErr net.Error
	msg := err.Error()
	switch {
	case errors.As(err, &netErr) && netErr.Timeout():
		return "timeout"
	case strings.Contains(msg, "connection refused"):
		return "refused"
	case strings.Contains(msg, "connection reset"), strings.Contains(msg, "broken pipe"), strings.Contains(msg, "EOF"):
		return "reset"
	case strings.Contains(msg, "no route to host"):
		return "no-route"
	default:
		return "other"
	}
}

func stopped() bool {
	_, err := os.Stat(stopFile)
	return err == nil
}

// drive sends s.Rate requests a second, each in its own goroutine (requests never wait for one
// another), until the stop file appears; then it waits for the requests in flight.
func drive(s Stream, transport *http.Transport, t *tally, done *sync.WaitGroup) {
	defer done.Done()
	client := &http.Client{Timeout: 5 * time.Second, Transport: transport}
	var inflight sync.WaitGroup
	ticker := time.NewTicker(time.Second / time.Duration(s.Rate))
	defer ticker.Stop()
	for range ticker.C {
		if stopped() {
			break
		}
		inflight.Add(1)
		go func(sent time.Time) {
			defer inflight.Done()
			resp, err := get(client, s)
			if err != nil {
				t.add(sent, 0, err)
				return
			}
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			t.add(sent, resp.StatusCode, err)
		}(time.Now())
	}
	inflight.Wait()
}

// progress remembers the last step a request reached, so that a failure says where it stalled:
// a lost DNS answer, a connection never accepted and a server that never answered all end as the
// same client timeout.
type progress struct {
	mu    sync.Mutex
	start time.Time
	step  string
	at    time.Duration
}

func (p *progress) reached(step string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.step, p.at = step, time.Since(p.start)
}

func (p *progress) explain(err error) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.step == "" {
		return err
	}
	return fmt.Errorf("%w (last step: %s at %d ms)", err, p.step, p.at.Milliseconds())
}

func (p *progress) trace(attempts *atomic.Int32) *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		DNSStart:          func(info httptrace.DNSStartInfo) { p.reached("DNS lookup of " + info.Host + " started") },
		DNSDone:           func(httptrace.DNSDoneInfo) { p.reached("DNS answered") },
		ConnectStart:      func(_, addr string) { p.reached("connecting to " + addr) },
		ConnectDone:       func(_, addr string, _ error) { p.reached("connected to " + addr) },
		TLSHandshakeStart: func() { p.reached("TLS handshake started") },
		TLSHandshakeDone:  func(tls.ConnectionState, error) { p.reached("TLS handshake done") },
		GotConn: func(info httptrace.GotConnInfo) {
			attempts.Add(1)
			p.reached("got a connection to " + info.Conn.RemoteAddr().String())
		},
		WroteRequest:         func(httptrace.WroteRequestInfo) { p.reached("request sent") },
		GotFirstResponseByte: func() { p.reached("answer started") },
	}
}

// get is one GET; a retry the client made on its own is returned as errRetried, and any other
// failure names the last step the request reached.
func get(client *http.Client, s Stream) (*http.Response, error) {
	var attempts atomic.Int32
	steps := &progress{start: time.Now()}
	trace := steps.trace(&attempts)
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), http.MethodGet, s.URL, nil)
	if err != nil {
		return nil, err
	}
	for name, value := range s.Headers {
		req.Header.Set(name, value)
	}
	if s.SpreadClients {
		req.Header.Set("X-Forwarded-For", clientAddress())
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, steps.explain(err)
	}
	if attempts.Load() > 1 {
		resp.Body.Close()
		return nil, errRetried
	}
	return resp, nil
}

// waitReachable returns once a TCP connection to the host of every stream's URL succeeds.
func waitReachable(streams []Stream, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for _, s := range streams {
		u, err := url.Parse(s.URL)
		if err != nil {
			return fmt.Errorf("stream %s: %w", s.Name, err)
		}
		port := u.Port()
		if port == "" {
			port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
		}
		address := net.JoinHostPort(u.Hostname(), port)
		for {
			conn, err := net.DialTimeout("tcp", address, time.Second)
			if err == nil {
				conn.Close()
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("stream %s: %s not reachable within %s: %w", s.Name, address, limit, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return nil
}

func run(arg string, wait time.Duration) int {
	if arg == "-" {
		read, err := io.ReadAll(os.Stdin)
		if err != nil {
			fmt.Fprintln(os.Stderr, "reading STREAMS_JSON from standard input:", err)
			return 2
		}
		arg = string(read)
	}
	var streams []Stream
	if err := json.Unmarshal([]byte(arg), &streams); err != nil || len(streams) == 0 {
		fmt.Fprintln(os.Stderr, "STREAMS_JSON must be a non-empty list of {name, url, rate, keepalive}:", err)
		return 2
	}
	transports := map[string]*http.Transport{}
	for _, s := range streams {
		if s.Name == "" || s.URL == "" || s.Rate < 1 || s.Rate > 2000 {
			fmt.Fprintf(os.Stderr, "stream %q (%s): needs a name, a url and a rate of 1 to 2000 requests per second\n", s.Name, s.URL)
			return 2
		}
		t, err := transport(s)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		transports[s.Name] = t
	}
	if wait > 0 {
		if err := waitReachable(streams, wait); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	fmt.Fprintln(os.Stderr, "loading")
	os.Remove(stopFile)
	started := time.Now()
	tallies := map[string]*tally{}
	var done sync.WaitGroup
	for _, s := range streams {
		tallies[s.Name] = newTally(started)
		done.Add(1)
		go drive(s, transports[s.Name], tallies[s.Name], &done)
	}
	done.Wait()
	for _, t := range tallies {
		t.finish()
	}
	out, _ := json.Marshal(map[string]any{
		"started_unix": float64(started.UnixNano()) / 1e9,
		"seconds":      time.Since(started).Seconds(),
		"streams":      tallies,
	})
	fmt.Println(string(out))
	return 0
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: loadgen run STREAMS_JSON [WAIT] | stop | idle")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "run":
		var wait time.Duration
		if len(os.Args) == 4 {
			var err error
			if wait, err = time.ParseDuration(os.Args[3]); err != nil || wait <= 0 {
				fmt.Fprintf(os.Stderr, "WAIT %q must be a positive duration such as 60s\n", os.Args[3])
				os.Exit(2)
			}
		}
		if len(os.Args) < 3 || len(os.Args) > 4 {
			fmt.Fprintln(os.Stderr, "usage: loadgen run STREAMS_JSON [WAIT]")
			os.Exit(2)
		}
		os.Exit(run(os.Args[2], wait))
	case "stop":
		if err := os.WriteFile(stopFile, []byte("stop"), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	case "idle":
		signals := make(chan os.Signal, 1)
		signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
		<-signals
	default:
		fmt.Fprintln(os.Stderr, "unknown command", os.Args[1])
		os.Exit(2)
	}
}
