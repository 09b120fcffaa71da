// Minimal cert-manager ACME HTTP-01 solver. The controller starts solver pods
// with args --listen-port, --domain, --token, --key (image entrypoint = this).
package main

import (
	"context"
	"errors"
	"flag"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/go-logr/logr/funcr"

	"github.com/cert-manager/cert-manager/pkg/issuer/acme/http/solver"
)

func main() {
	s := &solver.HTTP01Solver{}
	flag.IntVar(&s.ListenPort, "listen-port", 8089, "port to listen on")
	flag.StringVar(&s.Domain, "domain", "", "domain name to verify")
	flag.StringVar(&s.Token, "token", "", "challenge token")
	flag.StringVar(&s.Key, "key", "", "challenge key to respond with")
	flag.Parse()

	logger := funcr.New(func(prefix, args string) { log.Println(prefix, args) }, funcr.Options{})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(shutdownCtx)
	}()
	if err := s.Listen(logger); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}
