// Command server runs the installation-centre service: the JSON API, the staff web UI
// and, when DATABASE_URL is unset, its own PostgreSQL cluster under DATA_DIR.
package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // centres' time zones must load on machines without zoneinfo

	"centros/api"
	"centros/services"
	"centros/services/database"

	"github.com/prometheus/client_golang/prometheus"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

// config is the service's settings, read from the environment (API.md, "Operating the
// service").
type config struct {
	HTTPAddr         string
	DatabaseURL      string
	DataDir          string
	AdminEmail       string
	AdminPassword    string
	adminPasswordSet bool
	DemoData         bool
	PublicBaseURL    string
	CSMCallbackURL   string
	CSMWebhookSecret []string
	secretGenerated  bool
	CSMRetrySchedule []time.Duration
}

func loadConfig(getenv func(string) string) (*config, error) {
	get := func(k, def string) string {
		if v := strings.TrimSpace(getenv(k)); v != "" {
			return v
		}
		return def
	}
	c := &config{
		HTTPAddr:    get("HTTP_ADDR", "127.0.0.1:8080"),
		DatabaseURL: get("DATABASE_URL", ""),
		DataDir:     get("DATA_DIR", "./var"),
		AdminEmail:  strings.ToLower(get("ADMIN_EMAIL", "admin@example.com")),
	}
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		return nil, fmt.Errorf("HTTP_ADDR %q: %w", c.HTTPAddr, err)
	}
	demo, err := strconv.ParseBool(get("DEMO_DATA", strconv.FormatBool(c.DatabaseURL == "")))
	if err != nil {
		return nil, fmt.Errorf("DEMO_DATA must be true or false: %w", err)
	}
	c.DemoData = demo
	c.AdminPassword = getenv("ADMIN_PASSWORD")
	c.adminPasswordSet = c.AdminPassword != ""
	if !c.adminPasswordSet {
		if c.DemoData {
			c.AdminPassword = services.DemoPassword
		} else {
			c.AdminPassword = randomString(18)
		}
	}
	if len(c.AdminPassword) < 10 {
		return nil, errors.New("ADMIN_PASSWORD must have at least 10 characters")
	}
	c.PublicBaseURL = strings.TrimRight(get("PUBLIC_BASE_URL", "http://"+c.HTTPAddr), "/")
	if u, err := url.Parse(c.PublicBaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("PUBLIC_BASE_URL %q must be an http or https URL", c.PublicBaseURL)
	}
	c.CSMCallbackURL = get("CSM_CALLBACK_URL", "")
	if c.CSMCallbackURL != "" {
		if u, err := url.Parse(c.CSMCallbackURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("CSM_CALLBACK_URL %q must be an http or https URL", c.CSMCallbackURL)
		}
	}
	for _, s := range strings.Fields(getenv("CSM_WEBHOOK_SECRET")) {
		raw, ok := strings.CutPrefix(s, "whsec_")
		if _, err := base64.StdEncoding.DecodeString(raw); !ok || err != nil || raw == "" {
			return nil, errors.New("CSM_WEBHOOK_SECRET must be whsec_ followed by base64 (several, space-separated, while rotating)")
		}
		c.CSMWebhookSecret = append(c.CSMWebhookSecret, s)
	}
	for _, part := range strings.Split(get("CSM_RETRY_SCHEDULE", "5s,5m,30m,2h,5h,10h,14h,20h,24h"), ",") {
		d, err := time.ParseDuration(strings.TrimSpace(part))
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("CSM_RETRY_SCHEDULE: %q is not a positive duration such as 5s or 2h", part)
		}
		c.CSMRetrySchedule = append(c.CSMRetrySchedule, d)
	}
	return c, nil
}

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// webhookSecret returns the configured secrets, or the one generated at first start and
// kept under DATA_DIR so that CSM's copy stays valid across restarts.
func (c *config) webhookSecret() error {
	if len(c.CSMWebhookSecret) > 0 {
		return nil
	}
	path := filepath.Join(c.DataDir, "csm-webhook-secret")
	if b, err := os.ReadFile(path); err == nil {
		c.CSMWebhookSecret = []string{strings.TrimSpace(string(b))}
		return nil
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	secret := "whsec_" + base64.StdEncoding.EncodeToString(key)
	if err := os.MkdirAll(c.DataDir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return err
	}
	c.CSMWebhookSecret, c.secretGenerated = []string{secret}, true
	return nil
}

// shutdownBudget is how long in-flight requests get after SIGTERM; with the database
// closing after them the process exits well within 15 s.
const shutdownBudget = 10 * time.Second

func run(ctx context.Context, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))

	dbURL := cfg.DatabaseURL
	if dbURL == "" {
		cluster, err := database.StartCluster(ctx, filepath.Join(cfg.DataDir, "postgres"), database.ClusterOptions{}, log)
		if err != nil {
			return err
		}
		defer func() {
			if err := cluster.Stop(); err != nil {
				log.Error("stop embedded PostgreSQL", "err", err)
			}
		}()
		if err := ensureDatabase(ctx, cluster.URL("postgres"), "centros"); err != nil {
			return err
		}
		dbURL = cluster.URL("centros")
	}
	if err := cfg.webhookSecret(); err != nil {
		return fmt.Errorf("CSM webhook secret: %w", err)
	}

	db, sqlDB, err := database.Open(ctx, dbURL, 20)
	if err != nil {
		return err
	}
	defer sqlDB.Close()
	if err := database.Migrate(ctx, sqlDB, log); err != nil {
		return err
	}

	deps := services.Deps{DB: db, Log: log}
	svc := api.NewServices(deps, cfg.PublicBaseURL)

	createdAdmin, err := svc.Admin.EnsureAdmin(ctx, cfg.AdminEmail, cfg.AdminPassword)
	if err != nil {
		return fmt.Errorf("first admin: %w", err)
	}
	var demo *services.DemoResult
	if cfg.DemoData {
		if demo, err = services.NewDemo(deps, svc.Admin, svc.Tickets, svc.Inventory).Seed(ctx); err != nil {
			return err
		}
	}

	srv := api.NewServer(api.Config{PublicBaseURL: cfg.PublicBaseURL, SecureCookies: strings.HasPrefix(cfg.PublicBaseURL, "https://")},
		log, svc, services.NewHealth(sqlDB), api.NewMetrics(prometheus.NewRegistry(), sqlDB))

	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.HTTPAddr, err)
	}
	httpSrv := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	serveErr := make(chan error, 1)
	go func() { serveErr <- httpSrv.Serve(ln) }()

	printBanner(stdout, cfg, ln.Addr().String(), createdAdmin, demo)
	go purgeExpired(ctx, svc.Idempotency, log)

	deliveryDone := make(chan struct{})
	if cfg.CSMCallbackURL == "" {
		close(deliveryDone)
	} else {
		secrets := make([]services.WebhookSecret, len(cfg.CSMWebhookSecret))
		for i, s := range cfg.CSMWebhookSecret {
			if secrets[i], err = services.ParseWebhookSecret(s); err != nil {
				return fmt.Errorf("CSM_WEBHOOK_SECRET: %w", err)
			}
		}
		deliverer := services.NewDeliverer(deps, services.DeliveryConfig{URL: cfg.CSMCallbackURL, Secrets: secrets,
			Schedule: cfg.CSMRetrySchedule, Timeout: 10 * time.Second})
		go database.Listen(ctx, sqlDB, services.EventChannel, deliverer.Wake, log)
		go func() {
			defer close(deliveryDone)
			deliverer.Run(ctx)
		}()
	}

	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing requests in flight")
	srv.Drain()
	shutCtx, cancel := context.WithTimeout(context.Background(), shutdownBudget)
	defer cancel()
	if err := httpSrv.Shutdown(shutCtx); err != nil {
		log.Warn("requests still running at the shutdown deadline were cut", "err", err)
	}
	// Callback attempts under way finish (each is bounded by its 10 s timeout, and ran
	// alongside the requests above); an attempt cut here is sent again after its lease.
	select {
	case <-deliveryDone:
	case <-shutCtx.Done():
		log.Warn("callback deliveries still running at the shutdown deadline were left to their leases")
	}
	return nil
}

func ensureDatabase(ctx context.Context, adminURL, name string) error {
	db, err := sql.Open("pgx", adminURL)
	if err != nil {
		return err
	}
	defer db.Close()
	var exists bool
	if err := db.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return fmt.Errorf("embedded database: %w", err)
	}
	if exists {
		return nil
	}
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		return fmt.Errorf("embedded database: %w", err)
	}
	return nil
}

// purgeExpired forgets expired idempotency keys and old failed logins every hour.
func purgeExpired(ctx context.Context, idem *services.Idempotency, log *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if err := idem.Purge(ctx); err != nil && ctx.Err() == nil {
			log.Error("purge expired keys", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func printBanner(w io.Writer, cfg *config, addr string, createdAdmin bool, demo *services.DemoResult) {
	fmt.Fprintf(w, "\nCentros de instalación listening on http://%s\n", addr)
	if createdAdmin {
		if cfg.adminPasswordSet {
			fmt.Fprintf(w, "  first admin created: %s (password from ADMIN_PASSWORD)\n", cfg.AdminEmail)
		} else {
			fmt.Fprintf(w, "  first admin created: %s / %s\n", cfg.AdminEmail, cfg.AdminPassword)
		}
	}
	if demo != nil {
		fmt.Fprintf(w, "  demo logins (password %q):\n", services.DemoPassword)
		if !cfg.adminPasswordSet {
			fmt.Fprintf(w, "    %-24s admin\n", cfg.AdminEmail)
		}
		for _, l := range demo.Logins {
			fmt.Fprintf(w, "    %-24s %-15s %s\n", l.Email, l.Role, l.Where)
		}
		if demo.CSMToken != "" {
			fmt.Fprintf(w, "  demo CSM API token (shown once): %s\n", demo.CSMToken)
		}
	}
	if cfg.secretGenerated {
		fmt.Fprintf(w, "  CSM webhook secret generated (kept in %s): %s\n", filepath.Join(cfg.DataDir, "csm-webhook-secret"), cfg.CSMWebhookSecret[0])
	}
	if cfg.CSMCallbackURL == "" {
		fmt.Fprintln(w, "  CSM_CALLBACK_URL is unset: callback events queue until it is set")
	}
	fmt.Fprintln(w)
}
