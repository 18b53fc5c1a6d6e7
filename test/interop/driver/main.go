// libcni-driver: drives plugins through Debian's real libcni
// (github.com/containernetworking/cni/libcni), the library containerd,
// CRI-O and podman use, so the interop suite proves our plugins and our
// cnitool's result cache against it.
//
//	libcni-driver {add|check|del|cached|cachedconfig} <confdir> <net> <netns>
//
// Environment: CNI_PATH, CNI_CACHE_DIR (cache root, as cnitool's),
// CNI_IFNAME (default eth0), CNI_ARGS, CAP_ARGS. The container id is
// derived from the netns path exactly as cnitool does, so both tools find
// each other's cache entries.
package main

import (
	"context"
	"crypto/sha512"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/containernetworking/cni/libcni"
)

func die(err error) {
	fmt.Fprintf(os.Stderr, "%v\n", err)
	os.Exit(1)
}

func main() {
	if len(os.Args) != 5 {
		fmt.Fprintf(os.Stderr, "usage: %s {add|check|del|cached|cachedconfig} <confdir> <net> <netns>\n", os.Args[0])
		os.Exit(2)
	}
	cmd, dir, name, netns := os.Args[1], os.Args[2], os.Args[3], os.Args[4]
	list, err := libcni.LoadConfList(dir, name)
	if err != nil {
		die(err)
	}
	netns, err = filepath.Abs(netns)
	if err != nil {
		die(err)
	}
	sum := sha512.Sum512([]byte(netns))
	ifname := os.Getenv("CNI_IFNAME")
	if ifname == "" {
		ifname = "eth0"
	}
	rt := &libcni.RuntimeConf{
		ContainerID: fmt.Sprintf("cnitool-%x", sum[:10]),
		NetNS:       netns,
		IfName:      ifname,
	}
	if s := os.Getenv("CNI_ARGS"); s != "" {
		for _, pair := range strings.Split(s, ";") {
			kv := strings.Split(pair, "=")
			if len(kv) != 2 {
				die(fmt.Errorf("invalid CNI_ARGS pair %q", pair))
			}
			rt.Args = append(rt.Args, [2]string{kv[0], kv[1]})
		}
	}
	if s := os.Getenv("CAP_ARGS"); s != "" {
		if err := json.Unmarshal([]byte(s), &rt.CapabilityArgs); err != nil {
			die(err)
		}
	}
	cn := libcni.NewCNIConfigWithCacheDir(filepath.SplitList(os.Getenv("CNI_PATH")), os.Getenv("CNI_CACHE_DIR"), nil)
	ctx := context.Background()
	switch cmd {
	case "add":
		res, err := cn.AddNetworkList(ctx, list, rt)
		if err != nil {
			die(err)
		}
		if err := res.Print(); err != nil {
			die(err)
		}
	case "check":
		if err := cn.CheckNetworkList(ctx, list, rt); err != nil {
			die(err)
		}
	case "del":
		if err := cn.DelNetworkList(ctx, list, rt); err != nil {
			die(err)
		}
	case "cached":
		res, err := cn.GetNetworkListCachedResult(list, rt)
		if err != nil {
			die(err)
		}
		if res == nil {
			die(fmt.Errorf("no cached result"))
		}
		if err := res.Print(); err != nil {
			die(err)
		}
	case "cachedconfig":
		conf, crt, err := cn.GetNetworkListCachedConfig(list, rt)
		if err != nil {
			die(err)
		}
		if conf == nil {
			die(fmt.Errorf("no cached config"))
		}
		out, _ := json.Marshal(map[string]interface{}{
			"config": string(conf), "args": crt.Args, "capabilityArgs": crt.CapabilityArgs,
		})
		fmt.Println(string(out))
	default:
		die(fmt.Errorf("unknown command %q", cmd))
	}
}
