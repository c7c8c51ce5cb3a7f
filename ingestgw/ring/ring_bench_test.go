package ring

import "testing"

func BenchmarkGet(b *testing.B) {
	r := New(names(30))
	dst := make([]string, 0, 3)
	b.ReportAllocs()
	var k uint64
	for b.Loop() {
		k++
		dst = r.Get(k, 3, dst[:0])
	}
}
