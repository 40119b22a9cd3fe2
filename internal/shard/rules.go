package shard

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"unicode/utf8"

	"github.com/multitab/multitab/internal/apperr"
)

// Limits that do not depend on configuration.
const (
	MaxTitleBytes    = 200
	MaxFileNameBytes = 255
)

// ValidateTitle checks a shard title: non-empty after trimming, at most
// MaxTitleBytes, valid UTF-8 without control characters.
func ValidateTitle(title string) error {
	t := strings.TrimSpace(title)
	switch {
	case t == "":
		return apperr.New(apperr.BadRequest, "title must not be empty")
	case len(t) > MaxTitleBytes:
		return apperr.Errorf(apperr.BadRequest, "title is longer than %d bytes", MaxTitleBytes)
	case !utf8.ValidString(t):
		return apperr.New(apperr.BadRequest, "title is not valid UTF-8")
	case strings.ContainsFunc(t, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return apperr.New(apperr.BadRequest, "title must not contain control characters")
	}
	return nil
}

// ValidateFileName checks a file name: a relative path of [A-Za-z0-9._-]
// segments joined by "/", no empty, "." or ".." segment, at most
// MaxFileNameBytes.
func ValidateFileName(name string) error {
	if name == "" {
		return apperr.New(apperr.BadRequest, "file name must not be empty")
	}
	if len(name) > MaxFileNameBytes {
		return apperr.Errorf(apperr.BadRequest, "file name is longer than %d bytes", MaxFileNameBytes)
	}
	for _, seg := range strings.Split(name, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return apperr.Errorf(apperr.BadRequest, "file name %q has an empty, \".\" or \"..\" segment", name)
		}
		for _, r := range seg {
			ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-'
			if !ok {
				return apperr.Errorf(apperr.BadRequest, "file name %q may only use letters, digits, '.', '_', '-' and '/'", name)
			}
		}
	}
	return nil
}

// NewID returns a random identifier of n bytes of entropy, URL-safe.
func NewID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go ≥ 1.24)
	return base32Enc.EncodeToString(b)
}

// NewToken returns an unguessable access token (256 bits).
func NewToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// HashToken returns the stored form of a token.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Role is what a person may do in a shard.
type Role string

// Roles.
const (
	Editor Role = "editor"
	Viewer Role = "viewer"
)

// Access decides the role a token grants on a shard with the given
// visibility and token hashes. Returns a forbidden error when the shard is
// private and the token matches neither hash.
func Access(vis Visibility, editHash, viewHash, token string) (Role, error) {
	if vis == Public {
		return Editor, nil
	}
	if token != "" {
		h := HashToken(token)
		if editHash != "" && subtle.ConstantTimeCompare([]byte(h), []byte(editHash)) == 1 {
			return Editor, nil
		}
		if viewHash != "" && subtle.ConstantTimeCompare([]byte(h), []byte(viewHash)) == 1 {
			return Viewer, nil
		}
	}
	return "", apperr.New(apperr.Forbidden, "this shard is private: a valid token is required")
}
