package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = "dev"

// buildInfo is what /loki/api/v1/status/buildinfo and `kmlog version` report.
type buildInfo struct {
	Version   string `json:"version"`
	Revision  string `json:"revision"`
	Branch    string `json:"branch"`
	BuildUser string `json:"buildUser"`
	BuildDate string `json:"buildDate"`
	GoVersion string `json:"goVersion"`
}

func readBuildInfo() buildInfo {
	bi := buildInfo{Version: version, Branch: "main", GoVersion: runtime.Version()}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				bi.Revision = s.Value
			case "vcs.time":
				bi.BuildDate = s.Value
			}
		}
	}
	return bi
}

func versionString() string {
	bi := readBuildInfo()
	rev := bi.Revision
	if len(rev) > 12 {
		rev = rev[:12]
	}
	return fmt.Sprintf("kmlog %s (revision %s, %s %s/%s)", bi.Version, rev, bi.GoVersion, runtime.GOOS, runtime.GOARCH)
}
