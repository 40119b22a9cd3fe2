package shard

import "encoding/base32"

// base32Enc spells ids in lower-case letters and digits without padding.
var base32Enc = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// ValidID reports whether s could be an id made by NewID (cheap check before
// any lookup, so that junk never reaches a store or a Redis key).
func ValidID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}
