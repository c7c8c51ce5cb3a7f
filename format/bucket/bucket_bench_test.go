package bucket_test

import (
	"testing"

	"github.com/kubemate/kmlog/format/bucket"
	"github.com/kubemate/kmlog/format/bucket/buckettest"
)

func BenchmarkDir(b *testing.B) {
	d, err := bucket.NewDir(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	buckettest.Bench(b, d)
}

func BenchmarkMem(b *testing.B) {
	buckettest.Bench(b, bucket.NewMem())
}

func BenchmarkMeteredMem(b *testing.B) {
	var s bucket.Stats
	buckettest.Bench(b, bucket.Metered(bucket.NewMem(), &s))
}
