package s3_test

import (
	"testing"

	"github.com/kubemate/kmlog/format/bucket/buckettest"
	"github.com/kubemate/kmlog/format/bucket/s3/miniotest"
)

// BenchmarkMinIO measures one local MinIO over loopback HTTP: the cost per
// request that a querier or a flush pays, not the disk.
func BenchmarkMinIO(b *testing.B) {
	srv := miniotest.StartShared(b)
	buckettest.Bench(b, srv.NewBucket(b, "bench"))
}
