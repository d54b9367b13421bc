// Package database opens the service's PostgreSQL: an external one named by URL, or the
// embedded default, a private cluster this process starts from the PostgreSQL server
// binaries installed on the machine. It also applies the migrations.
package database

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ClusterOptions tune an embedded cluster.
type ClusterOptions struct {
	// Settings are extra postgresql.conf parameters given on the command line at start
	// (tests turn fsync off; the service keeps PostgreSQL's durable defaults).
	Settings map[string]string
}

// Cluster is a PostgreSQL cluster under a directory of ours, started and stopped by us.
type Cluster struct {
	binDir   string
	dataDir  string
	sockDir  string
	logFile  string
	port     int
	password string
	cred     *syscall.Credential
	log      *slog.Logger
}

// ErrNoServerBinaries says that the machine has no PostgreSQL server to embed.
var ErrNoServerBinaries = errors.New("PostgreSQL server binaries (initdb, pg_ctl, postgres) not found: " +
	"install Debian's postgresql package (apt-get install postgresql) or set DATABASE_URL")

// StartCluster starts (creating it on first use) the cluster that lives under dir and
// waits until it accepts connections. A cluster left running by a process that died
// is stopped and started again on a fresh port.
func StartCluster(ctx context.Context, dir string, opts ClusterOptions, log *slog.Logger) (*Cluster, error) {
	binDir, err := findServerBinaries()
	if err != nil {
		return nil, err
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if strings.ContainsAny(dir, "'\"\\") {
		return nil, fmt.Errorf("embedded cluster: the path %q has quotes or backslashes; choose another DATA_DIR", dir)
	}
	cred, err := serverCredential()
	if err != nil {
		return nil, err
	}
	if cred != nil && !reachable(dir, cred) {
		// PostgreSQL runs as the postgres user, who cannot reach a data directory under a
		// private folder (a root-owned home, a 0700 temporary directory). Keep the cluster
		// in a place it can reach, named after the DATA_DIR it belongs to, and say so.
		sum := sha256.Sum256([]byte(dir))
		moved := filepath.Join("/var/lib/centros", hex.EncodeToString(sum[:6]))
		log.Warn("the postgres user cannot reach DATA_DIR; the embedded cluster lives elsewhere", "data_dir", dir, "cluster_dir", moved)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("embedded cluster: %w", err)
		}
		_ = os.WriteFile(filepath.Join(dir, "CLUSTER-LOCATION"), []byte(moved+"\n"), 0o644)
		if err := os.MkdirAll(filepath.Dir(moved), 0o755); err != nil {
			return nil, fmt.Errorf("embedded cluster: %w", err)
		}
		dir = moved
	}
	c := &Cluster{
		cred:    cred,
		binDir:  binDir,
		dataDir: filepath.Join(dir, "pgdata"),
		sockDir: filepath.Join(dir, "pgrun"),
		logFile: filepath.Join(dir, "postgresql.log"),
		log:     log,
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("embedded cluster: %w", err)
	}
	if c.cred != nil {
		if err := os.Chmod(dir, 0o755); err != nil {
			return nil, err
		}
	}
	if err := c.initIfNeeded(ctx); err != nil {
		return nil, err
	}
	if err := c.start(ctx, opts); err != nil {
		return nil, err
	}
	return c, nil
}

// serverCredential returns who the cluster's processes run as: PostgreSQL refuses to run
// as root, so root runs it as the postgres user; anyone else runs it as themselves (nil).
func serverCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("embedded cluster: running as root needs the postgres OS user (Debian's postgresql package creates it): %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// reachable reports whether the user of cred can traverse every existing ancestor of dir.
func reachable(dir string, cred *syscall.Credential) bool {
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		var st syscall.Stat_t
		if err := syscall.Stat(d, &st); err == nil {
			// Unix reads the owner's bits for the owner, the group's for the group, and
			// the others' only for everyone else.
			var search uint32
			switch {
			case st.Uid == cred.Uid:
				search = 0o100
			case st.Gid == cred.Gid:
				search = 0o010
			default:
				search = 0o001
			}
			if st.Mode&search == 0 {
				return false
			}
		}
		if d == "/" || d == "." {
			return true
		}
	}
}

func findServerBinaries() (string, error) {
	has := func(dir string) bool {
		for _, b := range []string{"initdb", "pg_ctl", "postgres"} {
			if fi, err := os.Stat(filepath.Join(dir, b)); err != nil || fi.IsDir() {
				return false
			}
		}
		return true
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		if dir := strings.TrimSpace(string(out)); has(dir) {
			return dir, nil
		}
	}
	versions, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(versions, func(i, j int) bool { return pgMajor(versions[i]) > pgMajor(versions[j]) })
	for _, dir := range versions {
		if has(dir) {
			return dir, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil && has(filepath.Dir(real)) {
			return filepath.Dir(real), nil
		}
		if has(filepath.Dir(p)) {
			return filepath.Dir(p), nil
		}
	}
	return "", ErrNoServerBinaries
}

func pgMajor(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

// BinDir is where the server binaries (and pgbench, psql beside them) are.
func (c *Cluster) BinDir() string { return c.binDir }

// Port is the loopback TCP port the cluster listens on.
func (c *Cluster) Port() int { return c.port }

// Password is the superuser's password.
func (c *Cluster) Password() string { return c.password }

// URL is the connection URL of database name as the superuser.
func (c *Cluster) URL(name string) string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword("postgres", c.password),
		Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port)), Path: "/" + name, RawQuery: "sslmode=disable"}
	return u.String()
}

func (c *Cluster) passwordFile() string { return filepath.Join(filepath.Dir(c.dataDir), "pg-password") }

func (c *Cluster) initIfNeeded(ctx context.Context) error {
	if _, err := os.Stat(filepath.Join(c.dataDir, "PG_VERSION")); err == nil {
		pw, err := os.ReadFile(c.passwordFile())
		if err != nil {
			return fmt.Errorf("embedded cluster: %s exists but its password file is missing: %w", c.dataDir, err)
		}
		c.password = strings.TrimSpace(string(pw))
		return nil
	}
	c.log.Info("creating the embedded PostgreSQL cluster", "dir", c.dataDir)
	// A half-made cluster from an interrupted first start is made again from scratch.
	if err := os.RemoveAll(c.dataDir); err != nil {
		return err
	}
	if err := c.mkdirOwned(c.dataDir, 0o700); err != nil {
		return err
	}
	buf := make([]byte, 24)
	if _, err := rand.Read(buf); err != nil {
		return err
	}
	c.password = hex.EncodeToString(buf)
	pwInit := filepath.Join(c.dataDir, "..", ".initpw")
	if err := os.WriteFile(pwInit, []byte(c.password+"\n"), 0o600); err != nil {
		return err
	}
	defer os.Remove(pwInit)
	if err := c.chown(pwInit); err != nil {
		return err
	}
	if err := c.run(ctx, "initdb", "-D", c.dataDir, "-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8",
		"--auth-local=scram-sha-256", "--auth-host=scram-sha-256", "--pwfile="+pwInit); err != nil {
		return fmt.Errorf("embedded cluster: initdb: %w", err)
	}
	return os.WriteFile(c.passwordFile(), []byte(c.password+"\n"), 0o600)
}

func (c *Cluster) start(ctx context.Context, opts ClusterOptions) error {
	if err := c.mkdirOwned(c.sockDir, 0o700); err != nil {
		return err
	}
	if c.run(ctx, "pg_ctl", "status", "-D", c.dataDir) == nil {
		c.log.Warn("the embedded cluster was left running by an earlier process; restarting it")
		_ = c.run(ctx, "pg_ctl", "stop", "-D", c.dataDir, "-m", "fast", "-w")
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	c.port = port
	if _, err := os.Stat(c.logFile); errors.Is(err, os.ErrNotExist) {
		if err := os.WriteFile(c.logFile, nil, 0o600); err != nil {
			return err
		}
	}
	if err := c.chown(c.logFile); err != nil {
		return err
	}
	settings := map[string]string{
		"listen_addresses":        "127.0.0.1",
		"port":                    strconv.Itoa(port),
		"unix_socket_directories": c.sockDir,
		"max_connections":         "200",
	}
	for k, v := range opts.Settings {
		settings[k] = v
	}
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var o strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&o, "-c %s='%s' ", k, settings[k])
	}
	if err := c.run(ctx, "pg_ctl", "start", "-D", c.dataDir, "-w", "-t", "60", "-l", c.logFile, "-o", o.String()); err != nil {
		return fmt.Errorf("embedded cluster: start (see %s): %w", c.logFile, err)
	}
	c.log.Info("embedded PostgreSQL started", "dir", c.dataDir, "port", port)
	return nil
}

// Stop shuts the cluster down, letting running transactions roll back.
func (c *Cluster) Stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.run(ctx, "pg_ctl", "stop", "-D", c.dataDir, "-m", "fast", "-w"); err != nil {
		return fmt.Errorf("embedded cluster: stop: %w", err)
	}
	return nil
}

func (c *Cluster) run(ctx context.Context, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(c.binDir, name), args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Dir = filepath.Dir(c.dataDir)
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w: %s", name, err, strings.TrimSpace(out.String()))
	}
	return nil
}

func (c *Cluster) mkdirOwned(dir string, mode os.FileMode) error {
	if err := os.MkdirAll(dir, mode); err != nil {
		return err
	}
	if err := os.Chmod(dir, mode); err != nil {
		return err
	}
	return c.chown(dir)
}

func (c *Cluster) chown(path string) error {
	if c.cred == nil {
		return nil
	}
	return os.Chown(path, int(c.cred.Uid), int(c.cred.Gid))
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
