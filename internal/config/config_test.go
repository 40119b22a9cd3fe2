package config

import (
	"strings"
	"testing"
	"time"
)

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestDefaults(t *testing.T) {
	c, err := Load(env())
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTPAddr != ":8080" || c.FlushInterval != 5*time.Second || c.MongoDB != "multitab" || c.FlushWorkers != 3 || c.FlushRate != 10 {
		t.Fatalf("defaults: %+v", c)
	}
	if c.Limits.MaxFiles != 200 || c.Limits.MaxFileBytes != 1<<20 || c.Limits.MaxMessageBytes != 1<<20 {
		t.Fatalf("limit defaults: %+v", c.Limits)
	}
	if c.AdminPassHash != nil {
		t.Fatal("no admin password given, yet a hash")
	}
}

func TestErrorsNameTheVariable(t *testing.T) {
	_, err := Load(env("FLUSH_INTERVAL", "soon", "MAX_FILES", "-3", "LOG_LEVEL", "loud",
		"ALLOWED_ORIGINS", "example.com", "ADMIN_PASSWORD", "short", "FLUSH_RATE", "0"))
	if err == nil {
		t.Fatal("invalid configuration accepted")
	}
	for _, name := range []string{"FLUSH_INTERVAL", "MAX_FILES", "LOG_LEVEL", "ALLOWED_ORIGINS", "ADMIN_PASSWORD", "FLUSH_RATE"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s: %v", name, err)
		}
	}
}

func TestAdminPassword(t *testing.T) {
	c, err := Load(env("ADMIN_PASSWORD", "correct horse"))
	if err != nil || len(c.AdminPassHash) == 0 {
		t.Fatalf("hash of ADMIN_PASSWORD: %v", err)
	}
	if _, err := Load(env("ADMIN_PASSWORD_HASH", "plain")); err == nil || !strings.Contains(err.Error(), "ADMIN_PASSWORD_HASH") {
		t.Fatalf("a non-bcrypt hash was accepted: %v", err)
	}
	c2, err := Load(env("ADMIN_PASSWORD_HASH", string(c.AdminPassHash)))
	if err != nil || string(c2.AdminPassHash) != string(c.AdminPassHash) {
		t.Fatalf("ADMIN_PASSWORD_HASH: %v", err)
	}
}
