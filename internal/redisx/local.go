package redisx

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Local is a redis-server child process on a free loopback port.
type Local struct {
	URL  string
	Addr string
	cmd  *exec.Cmd
	done chan error
}

// StartLocal starts redis-server on a free port of 127.0.0.1 with its files
// under dir (nothing persisted when dir is empty) and waits until it answers.
// It fails with a clear message when redis-server is not installed.
func StartLocal(ctx context.Context, dir string) (*Local, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, errors.New("redisx: redis-server is not installed (apt-get install redis-server) and REDIS_URL is not set")
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	args := []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--loglevel", "warning"}
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("redisx: data dir: %w", err)
		}
		abs, _ := filepath.Abs(dir)
		args = append(args, "--dir", abs, "--save", "60 1", "--dbfilename", "dump.rdb")
	}
	// Not CommandContext: the server must outlive a cancelled start context.
	cmd := exec.Command(bin, args...)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("redisx: start redis-server: %w", err)
	}
	l := &Local{Addr: "127.0.0.1:" + strconv.Itoa(port), cmd: cmd, done: make(chan error, 1)}
	l.URL = "redis://" + l.Addr + "/0"
	go func() { l.done <- cmd.Wait() }()
	if err := l.waitReady(ctx); err != nil {
		l.Stop()
		return nil, err
	}
	return l, nil
}

func (l *Local) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		if c, err := net.DialTimeout("tcp", l.Addr, time.Second); err == nil {
			_, _ = c.Write([]byte("PING\r\n"))
			line, _ := bufio.NewReader(c).ReadString('\n')
			_ = c.Close()
			if strings.HasPrefix(line, "+PONG") {
				return nil
			}
		}
		select {
		case err := <-l.done:
			return fmt.Errorf("redisx: redis-server exited: %v", err)
		case <-ctx.Done():
			return fmt.Errorf("redisx: redis-server on %s not ready: %w", l.Addr, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Stop ends the server and waits for it.
func (l *Local) Stop() {
	if l.cmd.Process == nil {
		return
	}
	_ = l.cmd.Process.Signal(os.Interrupt)
	select {
	case <-l.done:
	case <-time.After(5 * time.Second):
		_ = l.cmd.Process.Kill()
		<-l.done
	}
	l.cmd.Process = nil
}

// FreePort asks the kernel for a free TCP port on 127.0.0.1.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("redisx: free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
