// Per-value benchmark of the upstream Go implementation (its exported pkg/crypto API, used as a
// library at the pinned release), run by bench/per-value.sh next to our criterion bench.
module sealed-secrets-rs/bench/upstream-go

go 1.26.2

require github.com/bitnami-labs/sealed-secrets v0.36.6

require (
	golang.org/x/crypto v0.49.0 // indirect
	golang.org/x/sys v0.42.0 // indirect
)
