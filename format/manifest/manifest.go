package manifest

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/kubemate/kmlog/format/objkey"
)

// ErrCorrupt is wrapped by decoding errors.
var ErrCorrupt = errors.New("corrupt manifest")

// maxItems bounds the lists of a decoded manifest.
const maxItems = 1 << 20

// Manifest is one committed generation of a day.
type Manifest struct {
	Gen     uint64 // 1, 2, ...
	Created int64  // Unix ns, the committing compactor's clock
	// Outputs are the compaction outputs of this generation: data
	// files data/<ULID>.parquet with indexes index/<ULID>.cidx.
	Outputs []Output
	// Replaced are the flush files (index/<ULID>.idx) this and earlier
	// generations merged, sorted.
	Replaced []objkey.ULID
	// Deletes are the delete requests whose lines the outputs no longer
	// hold, sorted.
	Deletes []objkey.ULID
}

// Output is one compaction output.
type Output struct {
	ID       objkey.ULID
	DataSize int64
	Rows     int64
}

type jsonManifest struct {
	Version  int          `json:"version"`
	Gen      uint64       `json:"gen"`
	Created  int64        `json:"created_ns"`
	Outputs  []jsonOutput `json:"outputs"`
	Replaced []string     `json:"replaced"`
	Deletes  []string     `json:"deletes"`
}

type jsonOutput struct {
	ID       string `json:"id"`
	DataSize int64  `json:"data_size"`
	Rows     int64  `json:"rows"`
}

// Encode returns the manifest's JSON.
func (m *Manifest) Encode() []byte {
	j := jsonManifest{Version: 1, Gen: m.Gen, Created: m.Created,
		Outputs: make([]jsonOutput, len(m.Outputs)), Replaced: ids(m.Replaced), Deletes: ids(m.Deletes)}
	for i, o := range m.Outputs {
		j.Outputs[i] = jsonOutput{ID: o.ID.String(), DataSize: o.DataSize, Rows: o.Rows}
	}
	b, err := json.Marshal(j)
	if err != nil {
		panic("BUG: encode manifest: " + err.Error())
	}
	return b
}

func ids(us []objkey.ULID) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = u.String()
	}
	return out
}

func parseIDs(ss []string, what string) ([]objkey.ULID, error) {
	if len(ss) > maxItems {
		return nil, fmt.Errorf("%w: %d %s", ErrCorrupt, len(ss), what)
	}
	out := make([]objkey.ULID, len(ss))
	for i, s := range ss {
		u, err := objkey.ParseULID(s)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, what, err)
		}
		out[i] = u
	}
	return out, nil
}

// Decode reads a manifest.
func Decode(b []byte) (*Manifest, error) {
	var j jsonManifest
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if j.Version != 1 {
		return nil, fmt.Errorf("%w: version %d", ErrCorrupt, j.Version)
	}
	if j.Gen == 0 {
		return nil, fmt.Errorf("%w: generation 0", ErrCorrupt)
	}
	if len(j.Outputs) > maxItems {
		return nil, fmt.Errorf("%w: %d outputs", ErrCorrupt, len(j.Outputs))
	}
	m := &Manifest{Gen: j.Gen, Created: j.Created, Outputs: make([]Output, len(j.Outputs))}
	for i, o := range j.Outputs {
		u, err := objkey.ParseULID(o.ID)
		if err != nil {
			return nil, fmt.Errorf("%w: output: %v", ErrCorrupt, err)
		}
		if o.DataSize < 0 || o.Rows < 0 {
			return nil, fmt.Errorf("%w: output %s: negative size", ErrCorrupt, o.ID)
		}
		m.Outputs[i] = Output{ID: u, DataSize: o.DataSize, Rows: o.Rows}
	}
	var err error
	if m.Replaced, err = parseIDs(j.Replaced, "replaced"); err != nil {
		return nil, err
	}
	if m.Deletes, err = parseIDs(j.Deletes, "deletes"); err != nil {
		return nil, err
	}
	slices.SortFunc(m.Replaced, objkey.ULID.Compare)
	slices.SortFunc(m.Deletes, objkey.ULID.Compare)
	return m, nil
}

// HasReplaced reports whether flush id is replaced.
func (m *Manifest) HasReplaced(id objkey.ULID) bool {
	_, ok := slices.BinarySearchFunc(m.Replaced, id, objkey.ULID.Compare)
	return ok
}

// HasDelete reports whether the outputs no longer hold delete request
// id's lines.
func (m *Manifest) HasDelete(id objkey.ULID) bool {
	_, ok := slices.BinarySearchFunc(m.Deletes, id, objkey.ULID.Compare)
	return ok
}
