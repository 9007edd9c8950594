// Command registry is the CNCF Distribution registry with the filesystem storage driver only: the image
// registry of the local cluster on 127.0.0.1, where skaffold and scripts/k8s_local.py push and containerd
// pulls (there is no other registry on these machines).
package main

import (
	"os"

	"github.com/distribution/distribution/v3/registry"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
)

func main() {
	if err := registry.RootCmd.Execute(); err != nil {
		os.Exit(1)
	}
}
