// Command probe is the test image's only program: it idles, resolves names, writes files, serves or
// fetches HTTP or opens TCP connections, so that cluster tests can check DNS, volumes,
// Services, rollouts and NetworkPolicies from inside a pod.
package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: probe idle | lookup NAME | write PATH TEXT | serve ADDR | get URL [HEADER: VALUE]... | dial HOST:PORT")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "idle":
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
		<-stop
	case "lookup":
		addrs, err := net.LookupHost(os.Args[2])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		for _, a := range addrs {
			fmt.Println(a)
		}
	case "write":
		if err := os.WriteFile(os.Args[2], []byte(os.Args[3]), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		data, err := os.ReadFile(os.Args[2])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println(string(data))
	case "serve":
		http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			host, _ := os.Hostname()
			fmt.Fprintf(w, "probe %s\n", host)
		})
		if err := http.ListenAndServe(os.Args[2], nil); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	case "get":
		// Any further arguments are "Name: value" request headers; "Host: ..." sets the host.
		req, err := http.NewRequest(http.MethodGet, os.Args[2], nil)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		for _, header := range os.Args[3:] {
			name, value, _ := strings.Cut(header, ":")
			if strings.EqualFold(name, "Host") {
				req.Host = strings.TrimSpace(value)
			} else {
				req.Header.Add(name, strings.TrimSpace(value))
			}
		}
		// HTTPS is for reaching an ingress by its pod address: the certificate is not checked, and the
		// TLS server name is the Host header's.
		transport := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, ServerName: req.Host}}
		client := http.Client{Timeout: 10 * time.Second, Transport: transport}
		resp, err := client.Do(req)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer resp.Body.Close()
		if _, err := io.Copy(os.Stdout, resp.Body); err != nil || resp.StatusCode != http.StatusOK {
			fmt.Fprintln(os.Stderr, "status", resp.StatusCode, err)
			os.Exit(1)
		}
	case "dial":
		// A denied connection is refused (kube-router rejects it) or, with engines that drop, times out.
		conn, err := net.DialTimeout("tcp", os.Args[2], 3*time.Second)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		conn.Close()
		fmt.Println("connected", os.Args[2])
	default:
		fmt.Fprintln(os.Stderr, "unknown command", os.Args[1])
		os.Exit(2)
	}
}
