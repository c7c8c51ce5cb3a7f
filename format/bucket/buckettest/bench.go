package buckettest

import (
	"bytes"
	"fmt"
	"io"
	"testing"

	"github.com/kubemate/kmlog/format/bucket"
)

// Bench runs the bucket benchmarks on bkt as sub-benchmarks of b: Put of
// objects of 64 KiB and 1 MiB, and GetRange of ranges of those sizes at
// moving offsets within a 16 MiB object. MB/s counts object bytes.
func Bench(b *testing.B, bkt bucket.Bucket) {
	for _, size := range []int{64 << 10, 1 << 20} {
		name := fmt.Sprintf("%dKiB", size>>10)
		b.Run("Put/"+name, func(b *testing.B) {
			p := data(1, size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				key := fmt.Sprintf("bench/put/%d/%d", size, i%64)
				if err := bkt.Put(b.Context(), key, bytes.NewReader(p), int64(size)); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
	const objSize = 16 << 20
	key := "bench/get/obj"
	if err := bucket.PutBytes(b.Context(), bkt, key, data(2, objSize)); err != nil {
		b.Fatal(err)
	}
	for _, size := range []int{64 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("GetRange/%dKiB", size>>10), func(b *testing.B) {
			buf := make([]byte, size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			var off int64
			for b.Loop() {
				rc, err := bkt.GetRange(b.Context(), key, off, int64(size))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(rc, buf); err != nil {
					b.Fatal(err)
				}
				rc.Close()
				off = (off + 3*int64(size)) % (objSize - int64(size))
			}
		})
	}
}
