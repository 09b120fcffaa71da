package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// StopFile ends a load run: the test creates it when the scenario is over.
const StopFile = "/tmp/stop"

type tally struct {
	mu       sync.Mutex
	OK       int            `json:"ok"`
	Fail     int            `json:"fail"`
	Errors   map[string]int `json:"errors"`
	Statuses map[string]int `json:"statuses"`
	Samples  []string       `json:"samples"`
}

func (t *tally) add(status int, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case err != nil:
		t.Fail++
		kind := classify(err)
		t.Errors[kind]++
		if len(t.Samples) < 20 {
			t.Samples = append(t.Samples, time.Now().UTC().Format("15:04:05.000")+" "+err.Error())
		}
	case status >= 200 && status < 300:
		t.OK++
	default:
		t.Fail++
		t.Statuses[strconv.Itoa(status)]++
	}
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

// load GETs url at rate requests per second, each with a 5 s timeout and no retry, over kept-alive
// connections or a new connection per request, until StopFile exists; then it prints the tally
// as JSON and exits 0 (the test judges the numbers).
func load(url, rateArg string, keepAlive bool) int {
	rate, err := strconv.Atoi(rateArg)
	if err != nil || rate < 1 || rate > 1000 {
		fmt.Fprintln(os.Stderr, "RATE must be 1 to 1000 requests per second")
		return 2
	}
	transport := &http.Transport{DisableKeepAlives: !keepAlive, MaxIdleConnsPerHost: 64}
	client := &http.Client{Timeout: 5 * time.Second, Transport: transport}
	t := &tally{Errors: map[string]int{}, Statuses: map[string]int{}}
	var inflight sync.WaitGroup
	ticker := time.NewTicker(time.Second / time.Duration(rate))
	defer ticker.Stop()
	started := time.Now()
	for range ticker.C {
		if _, err := os.Stat(StopFile); err == nil {
			break
		}
		inflight.Add(1)
		go func() {
			defer inflight.Done()
			resp, err := client.Get(url)
			if err != nil {
				t.add(0, err)
				return
			}
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			t.add(resp.StatusCode, err)
		}()
	}
	inflight.Wait()
	out, _ := json.Marshal(struct {
		*tally
		Seconds float64 `json:"seconds"`
	}{t, time.Since(started).Seconds()})
	fmt.Println(string(out))
	return 0
}
