// Package metrics serves OpenCEN's Prometheus endpoint: the connections' and attachments'
// state and traffic (read from the store at each scrape, so every server of a cluster
// answers the same), and this server's own API requests and store commits.
package metrics

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"opencen/internal/service"
)

// Source is what a scrape reads (service.Service).
type Source interface {
	Metrics(ctx context.Context) ([]service.ConnectionMetrics, []service.AttachmentMetrics, error)
}

// scrapeTimeout bounds the store reads of one scrape.
const scrapeTimeout = 10 * time.Second

var (
	// tunnel_id names the tunnel of a dual-tunnel connection (each has its own series;
	// summing by connection_id gives the connection), "" for a single-tunnel one.
	connLabels = []string{"connection_id", "account_id", "tunnel_id"}
	descUp     = prometheus.NewDesc("opencen_vpn_connection_up",
		"1 when the IPsec-VPN connection's IPsec SA is established, as its data plane last reported.", connLabels, nil)
	descBytes = prometheus.NewDesc("opencen_vpn_connection_bytes_total",
		"Bytes of inner IP packets through the connection: in = from the data center into the cloud, out = toward the data center.",
		append(connLabels[:3:3], "direction"), nil)
	descPackets = prometheus.NewDesc("opencen_vpn_connection_packets_total",
		"Inner IP packets through the connection, by direction as opencen_vpn_connection_bytes_total.",
		append(connLabels[:3:3], "direction"), nil)
	descBGPUp = prometheus.NewDesc("opencen_bgp_session_up",
		"1 when the connection's BGP session is established (connections with BGP only).", connLabels, nil)
	descPrefixes = prometheus.NewDesc("opencen_bgp_received_prefixes",
		"Prefixes the connection's BGP peer announces that the transit router accepted (connections with BGP only).", connLabels, nil)
	descHealth = prometheus.NewDesc("opencen_health_check_up",
		"1 while the connection's health check succeeds (connections with a health check only).", connLabels, nil)
	descAttBytes = prometheus.NewDesc("opencen_transit_router_attachment_bytes_total",
		"Bytes a transit router attachment carried: in = forwarded into the transit router, out = forwarded out of it into the attachment.",
		[]string{"attachment_id", "transit_router_id", "account_id", "direction"}, nil)
	descScrapeErr = prometheus.NewDesc("opencen_metrics_store_read_errors_total",
		"Scrapes whose store read failed (their connection metrics are missing).", nil, nil)
)

// Metrics is one server's registry.
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	commits  prometheus.Histogram
	state    *stateCollector
}

// New makes the registry; Watch adds the store's metrics.
func New(log *slog.Logger) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "opencen_api_requests_total",
			Help: "API requests answered, by product, action (empty: not an action this server serves) and code (Success or the error's Code)."},
			[]string{"product", "action", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "opencen_api_request_duration_seconds",
			Help:    "Time from a request's arrival to its answer, by product and action.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}},
			[]string{"product", "action"}),
		commits: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "opencen_store_commit_duration_seconds",
			Help:    "Time of the store transactions that commit the service's writes (conflicting ones included).",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1}}),
	}
	m.reg.MustRegister(m.requests, m.duration, m.commits,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.state = &stateCollector{log: log}
	m.reg.MustRegister(m.state)
	return m
}

// Watch makes scrapes read the connections and attachments from src.
func (m *Metrics) Watch(src Source) { m.state.src = src }

// ObserveRequest counts an answered API request (rpc.Server.Observe).
func (m *Metrics) ObserveRequest(product, action, code string, d time.Duration) {
	m.requests.WithLabelValues(product, action, code).Inc()
	m.duration.WithLabelValues(product, action).Observe(d.Seconds())
}

// ObserveCommit records a store commit's duration (service.Options.OnCommit).
func (m *Metrics) ObserveCommit(d time.Duration) { m.commits.Observe(d.Seconds()) }

// Handler serves the registry in Prometheus' text (or negotiated) format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Server serves /metrics on ln until closed (errors other than its closing are logged).
func (m *Metrics) Server(ln net.Listener) *http.Server {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.state.log.Error("metrics: serve", "err", err)
		}
	}()
	return hs
}

// stateCollector reads the store at each scrape. Its metrics are unchecked (Describe
// sends nothing but the error counter): the set of label values changes with the store.
type stateCollector struct {
	src     Source
	log     *slog.Logger
	readErr atomic.Uint64
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) { ch <- descScrapeErr }

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	defer func() { ch <- constMetric(descScrapeErr, prometheus.CounterValue, float64(c.readErr.Load())) }()
	if c.src == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	conns, atts, err := c.src.Metrics(ctx)
	if err != nil {
		c.readErr.Add(1)
		c.log.Warn("metrics: read the store", "err", err)
		return
	}
	for _, v := range conns {
		ch <- constMetric(descUp, prometheus.GaugeValue, bit(v.Up), v.ID, v.Account, v.Tunnel)
		ch <- constMetric(descBytes, prometheus.CounterValue, float64(v.Traffic.InBytes), v.ID, v.Account, v.Tunnel, "in")
		ch <- constMetric(descBytes, prometheus.CounterValue, float64(v.Traffic.OutBytes), v.ID, v.Account, v.Tunnel, "out")
		ch <- constMetric(descPackets, prometheus.CounterValue, float64(v.Traffic.InPackets), v.ID, v.Account, v.Tunnel, "in")
		ch <- constMetric(descPackets, prometheus.CounterValue, float64(v.Traffic.OutPackets), v.ID, v.Account, v.Tunnel, "out")
		if v.BGP {
			ch <- constMetric(descBGPUp, prometheus.GaugeValue, bit(v.BGPUp), v.ID, v.Account, v.Tunnel)
			ch <- constMetric(descPrefixes, prometheus.GaugeValue, float64(v.ReceivedPrefixes), v.ID, v.Account, v.Tunnel)
		}
		if v.HealthCheck {
			ch <- constMetric(descHealth, prometheus.GaugeValue, bit(v.HealthUp), v.ID, v.Account, v.Tunnel)
		}
	}
	for _, a := range atts {
		ch <- constMetric(descAttBytes, prometheus.CounterValue, float64(a.Traffic.InBytes), a.ID, a.Router, a.Account, "in")
		ch <- constMetric(descAttBytes, prometheus.CounterValue, float64(a.Traffic.OutBytes), a.ID, a.Router, a.Account, "out")
	}
}

// constMetric is prometheus.MustNewConstMetric without the panic: label counts are fixed
// by the code above, so an error here is a bug, reported to the scraper as one.
func constMetric(d *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) prometheus.Metric {
	m, err := prometheus.NewConstMetric(d, t, v, labels...)
	if err != nil {
		return prometheus.NewInvalidMetric(d, err)
	}
	return m
}

func bit(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
