package secret

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestSealOpenAndKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "key")
	b, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	sealed := b.Seal("s3cret-value")
	if strings.Contains(sealed, "s3cret") {
		t.Fatalf("sealed value leaks plaintext: %q", sealed)
	}
	if sealed == b.Seal("s3cret-value") {
		t.Fatal("two seals of one value are equal: nonce not random")
	}
	b2, err := LoadOrCreateKey(path) // same key file again
	if err != nil {
		t.Fatal(err)
	}
	got, err := b2.Open(sealed)
	if err != nil || got != "s3cret-value" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	other, _ := LoadOrCreateKey(filepath.Join(t.TempDir(), "other"))
	if _, err := other.Open(sealed); err == nil {
		t.Fatal("a different key opened the value")
	}
	if _, err := b.Open(sealed[:len(sealed)-2]); err == nil {
		t.Fatal("truncated value opened")
	}
}
