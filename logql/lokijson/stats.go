package lokijson

import "github.com/kubemate/kmlog/logql/engine"

// Stats is the shape of Loki's data.stats. kmlog fills the summary and
// the querier's line counts; the rest stays zero.
type Stats struct {
	Summary  Summary       `json:"summary"`
	Querier  QuerierStats  `json:"querier"`
	Ingester IngesterStats `json:"ingester"`
	Cache    CacheStats    `json:"cache"`
	Index    IndexStats    `json:"index"`
}

// Summary is stats.summary.
type Summary struct {
	BytesProcessedPerSecond               int64   `json:"bytesProcessedPerSecond"`
	LinesProcessedPerSecond               int64   `json:"linesProcessedPerSecond"`
	TotalBytesProcessed                   int64   `json:"totalBytesProcessed"`
	TotalLinesProcessed                   int64   `json:"totalLinesProcessed"`
	ExecTime                              float64 `json:"execTime"`
	QueueTime                             float64 `json:"queueTime"`
	Subqueries                            int64   `json:"subqueries"`
	TotalEntriesReturned                  int64   `json:"totalEntriesReturned"`
	Splits                                int64   `json:"splits"`
	Shards                                int64   `json:"shards"`
	TotalPostFilterLines                  int64   `json:"totalPostFilterLines"`
	TotalStructuredMetadataBytesProcessed int64   `json:"totalStructuredMetadataBytesProcessed"`
}

// QuerierStats is stats.querier.
type QuerierStats struct {
	Store StoreStats `json:"store"`
}

// IngesterStats is stats.ingester.
type IngesterStats struct {
	TotalReached       int64      `json:"totalReached"`
	TotalChunksMatched int64      `json:"totalChunksMatched"`
	TotalBatches       int64      `json:"totalBatches"`
	TotalLinesSent     int64      `json:"totalLinesSent"`
	Store              StoreStats `json:"store"`
}

// StoreStats is the store section of the querier and ingester stats.
type StoreStats struct {
	TotalChunksRef                    int64      `json:"totalChunksRef"`
	TotalChunksDownloaded             int64      `json:"totalChunksDownloaded"`
	ChunksDownloadTime                int64      `json:"chunksDownloadTime"`
	QueryReferencedStructuredMetadata bool       `json:"queryReferencedStructuredMetadata"`
	Chunk                             ChunkStats `json:"chunk"`
	ChunkRefsFetchTime                int64      `json:"chunkRefsFetchTime"`
	CongestionControlLatency          int64      `json:"congestionControlLatency"`
	PipelineWrapperFilteredLines      int64      `json:"pipelineWrapperFilteredLines"`
}

// ChunkStats is store.chunk.
type ChunkStats struct {
	HeadChunkBytes                      int64 `json:"headChunkBytes"`
	HeadChunkLines                      int64 `json:"headChunkLines"`
	DecompressedBytes                   int64 `json:"decompressedBytes"`
	DecompressedLines                   int64 `json:"decompressedLines"`
	CompressedBytes                     int64 `json:"compressedBytes"`
	TotalDuplicates                     int64 `json:"totalDuplicates"`
	PostFilterLines                     int64 `json:"postFilterLines"`
	HeadChunkStructuredMetadataBytes    int64 `json:"headChunkStructuredMetadataBytes"`
	DecompressedStructuredMetadataBytes int64 `json:"decompressedStructuredMetadataBytes"`
}

// CacheStats is stats.cache.
type CacheStats struct {
	Chunk               Cache `json:"chunk"`
	Index               Cache `json:"index"`
	Result              Cache `json:"result"`
	StatsResult         Cache `json:"statsResult"`
	VolumeResult        Cache `json:"volumeResult"`
	SeriesResult        Cache `json:"seriesResult"`
	LabelResult         Cache `json:"labelResult"`
	InstantMetricResult Cache `json:"instantMetricResult"`
}

// Cache is one cache's counters.
type Cache struct {
	EntriesFound      int64 `json:"entriesFound"`
	EntriesRequested  int64 `json:"entriesRequested"`
	EntriesStored     int64 `json:"entriesStored"`
	BytesReceived     int64 `json:"bytesReceived"`
	BytesSent         int64 `json:"bytesSent"`
	Requests          int64 `json:"requests"`
	DownloadTime      int64 `json:"downloadTime"`
	QueryLengthServed int64 `json:"queryLengthServed"`
}

// IndexStats is stats.index.
type IndexStats struct {
	TotalChunks      int64 `json:"totalChunks"`
	PostFilterChunks int64 `json:"postFilterChunks"`
	ShardsDuration   int64 `json:"shardsDuration"`
	UsedBloomFilters bool  `json:"usedBloomFilters"`
}

// StatsFrom fills Loki's stats shape from the engine's counters.
func StatsFrom(s engine.Stats) Stats {
	var out Stats
	sm := &out.Summary
	sm.TotalBytesProcessed = s.BytesScanned
	sm.TotalLinesProcessed = s.EntriesScanned
	sm.ExecTime = s.ExecTimeSeconds
	sm.TotalEntriesReturned = s.EntriesReturned
	sm.TotalPostFilterLines = s.PostFilterLines
	sm.Splits, sm.Shards = 1, 1
	if s.ExecTimeSeconds > 0 {
		sm.BytesProcessedPerSecond = int64(float64(s.BytesScanned) / s.ExecTimeSeconds)
		sm.LinesProcessedPerSecond = int64(float64(s.EntriesScanned) / s.ExecTimeSeconds)
	}
	ch := &out.Querier.Store.Chunk
	ch.DecompressedBytes = s.BytesScanned
	ch.DecompressedLines = s.EntriesScanned
	ch.PostFilterLines = s.PostFilterLines
	return out
}
