// Minimal cert-manager v1.21.2 controller. Upstream's cmd/controller is not on
// the module proxy and its config-defaults package imports the Venafi issuer
// (vcert, not served), so the library's controllers are wired here by hand.
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/api/resource"
	logsapi "k8s.io/component-base/logs/api/v1"

	"github.com/cert-manager/cert-manager/pkg/controller"
	"github.com/cert-manager/cert-manager/pkg/healthz"
	dnsutil "github.com/cert-manager/cert-manager/pkg/issuer/acme/dns/util"
	logf "github.com/cert-manager/cert-manager/pkg/logs"
	utilfeature "github.com/cert-manager/cert-manager/pkg/util/feature"

	// Controllers and issuer types register themselves in init().
	_ "github.com/cert-manager/cert-manager/pkg/controller/acmechallenges"
	_ "github.com/cert-manager/cert-manager/pkg/controller/acmeorders"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificate-shim/ingresses"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/acme"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/approver"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/ca"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/selfsigned"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/issuing"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/keymanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/metrics"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/readiness"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/requestmanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/revisionmanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/trigger"
	_ "github.com/cert-manager/cert-manager/pkg/controller/clusterissuers"
	_ "github.com/cert-manager/cert-manager/pkg/controller/issuers"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/acme"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/ca"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/selfsigned"
)

func main() {
	var o controller.ContextOptions
	var controllers []string
	var metricsAddr, healthzAddr string
	var workers int
	known := slices.Sorted(func(yield func(string) bool) {
		for n := range controller.Known() {
			yield(n)
		}
	})
	fs := pflag.CommandLine
	fs.StringVar(&o.Kubeconfig, "kubeconfig", "", "Path to a kubeconfig; empty = in-cluster config.")
	fs.StringVar(&o.Namespace, "namespace", "", "Watch only this namespace (also disables clusterissuers).")
	fs.StringVar(&o.ClusterResourceNamespace, "cluster-resource-namespace", "kube-system", "Namespace of Secrets used by ClusterIssuers.")
	fs.StringSliceVar(&controllers, "controllers", []string{"*"}, "'*' = all of: "+strings.Join(known, ", ")+"; '-name' disables one.")
	fs.StringVar(&metricsAddr, "metrics-listen-address", "0.0.0.0:9402", "Prometheus /metrics address (plain HTTP).")
	fs.StringVar(&healthzAddr, "internal-healthz-listen-address", "0.0.0.0:9403", "/livez address.")
	fs.IntVar(&workers, "concurrent-workers", 5, "Workers per controller.")
	fs.IntVar(&o.MaxConcurrentChallenges, "max-concurrent-challenges", 60, "Max ACME challenges processed at once.")
	fs.StringVar(&o.HTTP01SolverImage, "acme-http01-solver-image", "cert-manager-acmesolver:v1.21.2", "Image of ACME HTTP-01 solver pods.")
	fs.BoolVar(&o.ACMEHTTP01SolverRunAsNonRoot, "acme-http01-solver-run-as-non-root", true, "Set runAsNonRoot on solver pods.")
	fs.StringSliceVar(&o.DNS01Nameservers, "dns01-recursive-nameservers", nil, "host:port resolvers for DNS-01 self checks (default: resolv.conf).")
	fs.DurationVar(&o.DNS01CheckRetryPeriod, "dns01-check-retry-period", 10*time.Second, "Wait between HTTP-01/DNS-01 self checks.")
	fs.StringVar(&o.DefaultIssuerName, "default-issuer-name", "", "ingress-shim: issuer for Ingresses annotated only kubernetes.io/tls-acme.")
	fs.StringVar(&o.DefaultIssuerKind, "default-issuer-kind", "Issuer", "ingress-shim: kind of the default issuer.")
	utilfeature.DefaultMutableFeatureGate.AddFlag(fs)
	logCfg := logsapi.NewLoggingConfiguration()
	logf.AddFlags(logCfg, fs)
	pflag.Parse()

	logf.InitLogs()
	defer logf.FlushLogs()
	if err := logf.ValidateAndApply(logCfg); err != nil {
		fail(err)
	}
	// Defaults upstream applies through its config API (internal/apis/config).
	o.KubernetesAPIQPS, o.KubernetesAPIBurst = 20, 50
	o.ClusterIssuerAmbientCredentials = true
	o.DefaultIssuerGroup = "cert-manager.io"
	o.DefaultAutoCertificateAnnotations = []string{"kubernetes.io/tls-acme"}
	o.CopiedAnnotationPrefixes = []string{"*", "-kubectl.kubernetes.io/", "-fluxcd.io/", "-argocd.argoproj.io/"}
	o.CertificateRequestMinimumBackoffDuration, o.CertificateRequestMaximumBackoffDuration = time.Hour, 32*time.Hour
	o.DNS01CheckAuthoritative = true
	if len(o.DNS01Nameservers) == 0 {
		o.DNS01Nameservers = dnsutil.RecursiveNameservers
	}
	o.HTTP01SolverResourceRequestCPU, o.HTTP01SolverResourceLimitsCPU = resource.MustParse("10m"), resource.MustParse("100m")
	o.HTTP01SolverResourceRequestMemory, o.HTTP01SolverResourceLimitsMemory = resource.MustParse("64Mi"), resource.MustParse("64Mi")

	// "*" = all compiled-in controllers, "-x" removes x; a list of only "-x" implies "*".
	enabled, implyAll := map[string]bool{}, true
	for _, c := range controllers {
		if !strings.HasPrefix(c, "-") {
			implyAll, enabled[c] = false, true
		}
	}
	if implyAll || enabled["*"] {
		for _, k := range known {
			enabled[k] = true
		}
	}
	delete(enabled, "*")
	for _, c := range controllers {
		if strings.HasPrefix(c, "-") {
			delete(enabled, c[1:])
		} else if c != "*" && !slices.Contains(known, c) {
			fail(fmt.Errorf("unknown controller %q", c))
		}
	}
	if o.Namespace != "" {
		delete(enabled, "clusterissuers")
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(logf.NewContext(ctx, logf.Log), o, enabled, metricsAddr, healthzAddr, workers); err != nil {
		fail(err)
	}
}

func run(ctx context.Context, o controller.ContextOptions, enabled map[string]bool, metricsAddr, healthzAddr string, workers int) error {
	factory, err := controller.NewContextFactory(ctx, o)
	if err != nil {
		return err
	}
	cctx, err := factory.Build()
	if err != nil {
		return err
	}
	metricsLn, err := net.Listen("tcp", metricsAddr)
	if err != nil {
		return err
	}
	healthzLn, err := net.Listen("tcp", healthzAddr)
	if err != nil {
		return err
	}
	g, ctx := errgroup.WithContext(ctx)

	cm := cctx.SharedInformerFactory.Certmanager().V1()
	cctx.Metrics.SetupACMECollector(cctx.SharedInformerFactory.Acme().V1().Challenges().Lister())
	cctx.Metrics.SetupCertificateCollector(cm.Certificates().Lister())
	cctx.Metrics.SetupIssuerCollector(cm.Issuers().Lister())
	if enabled["clusterissuers"] {
		cctx.Metrics.SetupClusterIssuerCollector(cm.ClusterIssuers().Lister())
	}
	metricsSrv := cctx.Metrics.NewServer(metricsLn)
	g.Go(func() error {
		if err := metricsSrv.Serve(metricsLn); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	g.Go(func() error { <-ctx.Done(); return metricsSrv.Close() })
	g.Go(func() error { return healthz.NewServer(20*time.Second).Start(ctx, healthzLn) })

	for name, construct := range controller.Known() {
		if !enabled[name] {
			continue
		}
		c, err := construct(factory)
		if err != nil {
			return fmt.Errorf("controller %q: %w", name, err)
		}
		logf.FromContext(ctx).Info("starting controller", "controller", name)
		g.Go(func() error { return c.Run(workers, ctx) })
	}
	// Start informers only after the controllers have requested theirs.
	cctx.SharedInformerFactory.Start(ctx.Done())
	cctx.KubeSharedInformerFactory.Start(ctx.Done())
	cctx.HTTP01ResourceMetadataInformersFactory.Start(ctx.Done())
	return g.Wait()
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "error:", err)
	logf.FlushLogs()
	os.Exit(1)
}
