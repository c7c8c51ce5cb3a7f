package deploy

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// TestImage builds the kmlog image as `make image` does — a static binary
// and scripts/ociimage, no container engine — twice, and checks that both
// builds give the same digest (reproducible), that the image runs the
// binary as the non-root user, and that the binary is static.
func TestImage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the kmlog binary")
	}
	mk, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-tags lambda.norpc", "./scripts/ociimage", "./cmd/kmlog"} {
		if !bytes.Contains(mk, []byte(want)) {
			t.Errorf("Makefile's image target does not use %q", want)
		}
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "kmlog")
	// The flags of the Lambda artifacts (TestLambdaArtifacts): one binary
	// everywhere, and the compiled packages are shared with that build.
	build := exec.Command("go", "build", "-trimpath", "-tags", "lambda.norpc", "-ldflags", "-s -w", "-o", bin, "./cmd/kmlog")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build kmlog: %v\n%s", err, out)
	}
	tool := filepath.Join(dir, "ociimage")
	build = exec.Command("go", "build", "-o", tool, "./scripts/ociimage")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build ociimage: %v\n%s", err, out)
	}
	var digests []string
	for i, out := range []string{filepath.Join(dir, "image1"), filepath.Join(dir, "image2")} {
		cmd := exec.Command(tool, "-binary", bin, "-out", out, "-arch", "arm64", "-source-date-epoch", "1700000000")
		b, err := cmd.Output()
		if err != nil {
			t.Fatalf("ociimage run %d: %v", i, err)
		}
		digests = append(digests, strings.TrimSpace(string(b)))
	}
	if !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(digests[0]) || digests[0] != digests[1] {
		t.Fatalf("digests %v: want the same sha256 twice", digests)
	}

	p, err := layout.FromPath(filepath.Join(dir, "image1"))
	if err != nil {
		t.Fatal(err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil || len(im.Manifests) != 1 || im.Manifests[0].Digest.String() != digests[0] {
		t.Fatalf("layout index %+v, %v: want the one image %s", im, err, digests[0])
	}
	img, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != "linux" || cf.Architecture != "arm64" || cf.Config.User != "65532:65532" ||
		!slices.Equal(cf.Config.Entrypoint, []string{"/usr/local/bin/kmlog"}) {
		t.Errorf("config: os %s arch %s user %q entrypoint %v; want linux arm64, 65532:65532, the binary",
			cf.OS, cf.Architecture, cf.Config.User, cf.Config.Entrypoint)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("%d layers, %v", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	files := map[string][]byte{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		files[h.Name] = b
		if h.Name == "usr/local/bin/kmlog" && h.Mode&0o111 == 0 {
			t.Errorf("binary mode %o is not executable", h.Mode)
		}
	}
	if !strings.Contains(string(files["etc/passwd"]), "nonroot:x:65532:65532:") {
		t.Errorf("etc/passwd lacks the nonroot user: %q", files["etc/passwd"])
	}
	ef, err := elf.NewFile(bytes.NewReader(files["usr/local/bin/kmlog"]))
	if err != nil {
		t.Fatalf("the image's binary: %v", err)
	}
	for _, prog := range ef.Progs {
		if prog.Type == elf.PT_INTERP {
			t.Error("the image's binary is dynamically linked")
		}
	}
	// Every kmlog manifest names the image this builds.
	for _, f := range []string{"infra/k8s/gateway.yaml", "infra/k8s/ingester.yaml", "infra/knative/frontend.yaml"} {
		b, _ := os.ReadFile(filepath.Join(root, f))
		if !bytes.Contains(b, []byte("image: "+kmlogImage)) {
			t.Errorf("%s does not run %s…", f, kmlogImage)
		}
	}
}
