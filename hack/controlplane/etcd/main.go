// Command etcd builds the etcd server from its Go module. The server module's go.mod carries local
// replace lines, so `go install` of it fails; a wrapper main that calls etcdmain.Main does not.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
