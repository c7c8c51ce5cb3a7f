package manifest

import (
	"encoding/json"
	"fmt"

	"github.com/kubemate/kmlog/format/objkey"
)

// DeleteRequest is one delete request of a tenant (Loki's delete API).
type DeleteRequest struct {
	ID    objkey.ULID
	Query string // a LogQL log selector, maybe with a pipeline
	// Start and End bound the lines' timestamps, both inclusive, Unix ns.
	Start, End int64
	Created    int64 // Unix ns
}

type jsonDelete struct {
	Version int    `json:"version"`
	ID      string `json:"id"`
	Query   string `json:"query"`
	Start   int64  `json:"start_ns"`
	End     int64  `json:"end_ns"`
	Created int64  `json:"created_ns"`
}

// maxQueryLen bounds a stored delete query.
const maxQueryLen = 64 << 10

// EncodeDelete returns the request's JSON.
func EncodeDelete(r DeleteRequest) []byte {
	b, err := json.Marshal(jsonDelete{Version: 1, ID: r.ID.String(), Query: r.Query, Start: r.Start, End: r.End, Created: r.Created})
	if err != nil {
		panic("BUG: encode delete request: " + err.Error())
	}
	return b
}

// DecodeDelete reads a delete request.
func DecodeDelete(b []byte) (DeleteRequest, error) {
	var j jsonDelete
	if err := json.Unmarshal(b, &j); err != nil {
		return DeleteRequest{}, fmt.Errorf("%w: delete request: %v", ErrCorrupt, err)
	}
	if j.Version != 1 {
		return DeleteRequest{}, fmt.Errorf("%w: delete request version %d", ErrCorrupt, j.Version)
	}
	id, err := objkey.ParseULID(j.ID)
	if err != nil {
		return DeleteRequest{}, fmt.Errorf("%w: delete request: %v", ErrCorrupt, err)
	}
	if j.Query == "" || len(j.Query) > maxQueryLen {
		return DeleteRequest{}, fmt.Errorf("%w: delete request query of %d bytes", ErrCorrupt, len(j.Query))
	}
	if j.End < j.Start {
		return DeleteRequest{}, fmt.Errorf("%w: delete request ends before it starts", ErrCorrupt)
	}
	return DeleteRequest{ID: id, Query: j.Query, Start: j.Start, End: j.End, Created: j.Created}, nil
}
