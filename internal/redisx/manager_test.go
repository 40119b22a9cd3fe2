package redisx_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/multitab/multitab/internal/redisx"
	"github.com/multitab/multitab/internal/testsvc"
)

func TestManager(t *testing.T) {
	ctx := context.Background()
	local := testsvc.Redis(t)
	m, err := redisx.NewManager(ctx, local.URL)
	if err != nil {
		t.Fatal(err)
	}
	// Each role is its own connection, named so that CLIENT LIST tells them apart.
	if err := m.KV().Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	sub := m.Subscriber().Subscribe(ctx, "ch")
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	if err := m.Publisher().Publish(ctx, "ch", "hello").Err(); err != nil {
		t.Fatal(err)
	}
	msg, err := sub.ReceiveMessage(ctx)
	if err != nil || msg.Payload != "hello" {
		t.Fatalf("pub/sub: %v %v", msg, err)
	}
	if v, err := m.Queue().Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Fatalf("queue connection reads %q, %v", v, err)
	}
	list, err := m.KV().ClientList(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"multitab-kv", "multitab-pub", "multitab-sub", "multitab-queue"} {
		if !strings.Contains(list, "name="+name) {
			t.Errorf("no connection named %s in CLIENT LIST", name)
		}
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := m.Ping(ctx); err == nil {
		t.Fatal("Ping after Close succeeded")
	}
}

func TestManagerErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := redisx.NewManager(ctx, "http://nope"); err == nil {
		t.Fatal("a URL that is not redis:// was accepted")
	}
	port, _ := redisx.FreePort()
	if _, err := redisx.NewManager(ctx, "redis://127.0.0.1:"+strconv.Itoa(port)); err == nil {
		t.Fatal("connecting to a port nobody listens on succeeded")
	}
}
