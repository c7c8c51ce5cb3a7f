// Command ociimage assembles the kmlog container image as an OCI image
// layout, without a container engine: one layer holding the static kmlog
// binary and the passwd/group entries of the non-root user it runs as
// (65532, "nonroot", as distroless does), and a config whose entrypoint
// is the binary. TLS roots are compiled into the binary
// (golang.org/x/crypto/x509roots/fallback), so no base image is needed.
//
// The output is reproducible: every timestamp is -source-date-epoch (0 by
// default; make passes $SOURCE_DATE_EPOCH), file order and modes are fixed, so the same binary always gives
// the same image digest. `make image` builds the binary and runs this:
//
//	go run ./scripts/ociimage -binary build/kmlog -out build/image -tag ghcr.io/kubemate/kmlog:dev
//
// Push the layout with any OCI tool: `crane push build/image REF` or
// `skopeo copy oci:build/image docker://REF`.
package main

import (
	"archive/tar"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

const (
	binPath = "/usr/local/bin/kmlog"
	uid     = 65532
)

func main() {
	binary := flag.String("binary", "", "the static linux kmlog binary (required)")
	out := flag.String("out", "build/image", "directory of the OCI image layout to write (replaced)")
	arch := flag.String("arch", "amd64", "the binary's GOARCH")
	tag := flag.String("tag", "ghcr.io/kubemate/kmlog:dev", "org.opencontainers.image.ref.name of the image in the layout")
	epoch := flag.Int64("source-date-epoch", 0, "every timestamp in the image, in Unix seconds (make passes $SOURCE_DATE_EPOCH)")
	flag.Parse()
	if *binary == "" {
		fmt.Fprintln(os.Stderr, "ociimage: -binary is required")
		os.Exit(2)
	}
	digest, err := build(*binary, *out, *arch, *tag, time.Unix(*epoch, 0).UTC())
	if err != nil {
		fmt.Fprintln(os.Stderr, "ociimage:", err)
		os.Exit(1)
	}
	fmt.Println(digest)
}

// build writes the layout and returns the image's digest.
func build(binary, out, arch, tag string, date time.Time) (v1.Hash, error) {
	bin, err := os.ReadFile(binary)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("read binary: %w", err)
	}
	layerTar, err := rootFS(bin, date)
	if err != nil {
		return v1.Hash{}, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return v1.Hash{}, fmt.Errorf("make layer: %w", err)
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{Layer: layer, History: v1.History{
		Created: v1.Time{Time: date}, CreatedBy: "scripts/ociimage", Comment: "kmlog binary and the nonroot user",
	}})
	if err != nil {
		return v1.Hash{}, fmt.Errorf("append layer: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return v1.Hash{}, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	cf.Created = v1.Time{Time: date}
	cf.Config.User = strconv.Itoa(uid) + ":" + strconv.Itoa(uid)
	cf.Config.Entrypoint = []string{binPath}
	cf.Config.WorkingDir = "/"
	cf.Config.ExposedPorts = map[string]struct{}{"3100/tcp": {}, "8080/tcp": {}}
	cf.Config.Env = []string{"PATH=/usr/local/bin"}
	cf.Config.Labels = map[string]string{
		"org.opencontainers.image.title":  "kmlog",
		"org.opencontainers.image.source": "https://github.com/kubemate/kmlog",
	}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return v1.Hash{}, err
	}
	img = mutate.Annotations(img, map[string]string{"org.opencontainers.image.created": date.Format(time.RFC3339)}).(v1.Image)
	if err := os.RemoveAll(out); err != nil {
		return v1.Hash{}, err
	}
	p, err := layout.Write(out, empty.Index)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("write layout: %w", err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": tag})); err != nil {
		return v1.Hash{}, fmt.Errorf("write image: %w", err)
	}
	return img.Digest()
}

// rootFS is the layer: directories, /etc/passwd and /etc/group with root
// and nonroot, and the binary, in a fixed order with fixed times.
func rootFS(bin []byte, date time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dir := func(name string, mode int64) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: mode, ModTime: date, Format: tar.FormatPAX})
	}
	file := func(name string, mode int64, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data)), ModTime: date, Format: tar.FormatPAX}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	passwd := "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
	group := "root:x:0:\nnonroot:x:65532:\n"
	steps := []func() error{
		func() error { return dir("etc/", 0o755) },
		func() error { return file("etc/group", 0o644, []byte(group)) },
		func() error { return file("etc/passwd", 0o644, []byte(passwd)) },
		func() error {
			return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "home/nonroot/", Mode: 0o700, Uid: uid, Gid: uid, ModTime: date, Format: tar.FormatPAX})
		},
		func() error {
			return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "tmp/", Mode: 0o1777, ModTime: date, Format: tar.FormatPAX})
		},
		func() error { return dir("usr/", 0o755) },
		func() error { return dir("usr/local/", 0o755) },
		func() error { return dir("usr/local/bin/", 0o755) },
		func() error { return file("usr/local/bin/kmlog", 0o755, bin) },
		tw.Close,
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return nil, fmt.Errorf("write layer: %w", err)
		}
	}
	return buf.Bytes(), nil
}
