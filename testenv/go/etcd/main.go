// Command etcd is upstream etcd's server main (go.etcd.io/etcd/v3's main.go),
// built from the published go.etcd.io/etcd/server/v3 module.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
