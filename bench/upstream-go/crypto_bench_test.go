package bench

import (
	"crypto/rand"
	"crypto/rsa"
	"testing"

	ssc "github.com/bitnami-labs/sealed-secrets/pkg/crypto"
)

// The same inputs as sealed-secrets-core/benches/crypto.rs: one short value, RSA-4096,
// a strict-scope label.
var (
	value = []byte("a typical secret value, e.g. a database password")
	label = []byte("namespace/name")
)

func key(b *testing.B) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 4096)
	if err != nil {
		b.Fatal(err)
	}
	return k
}

func BenchmarkSealOneValue(b *testing.B) {
	k := key(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := ssc.HybridEncrypt(rand.Reader, &k.PublicKey, value, label); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnsealOneValue(b *testing.B) {
	k := key(b)
	blob, err := ssc.HybridEncrypt(rand.Reader, &k.PublicKey, value, label)
	if err != nil {
		b.Fatal(err)
	}
	keys := map[string]*rsa.PrivateKey{"k": k}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := ssc.HybridDecrypt(rand.Reader, keys, blob, label); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGenerateKey matches ours (rsa4096/generate_key): one RSA-4096 key, no certificate.
func BenchmarkGenerateKey(b *testing.B) {
	for i := 0; i < b.N; i++ {
		if _, err := rsa.GenerateKey(rand.Reader, 4096); err != nil {
			b.Fatal(err)
		}
	}
}
