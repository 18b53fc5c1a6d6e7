// bench-driver: the runtime side of `make bench`. It drives both plugin
// suites through Debian's libcni (the library containerd, CRI-O and podman
// embed) and through our cnitool, and times each operation from inside one
// long-lived process, as a container runtime would.
//
// Line protocol on stdin, one answer line per command on stdout:
//
//	suite <name> <cni_path> <cache_dir> <confdir>   register a suite
//	cnitool <path>                                  our cnitool binary
//	nsadd <name>  | nsdel <name>                    netns under /run/netns
//	add|del|cadd|cdel <suite> <net> <ns> <capargs|-> [ifname]
//	par <suite> <net> <capargs|-> <ns1,ns2,...>     concurrent libcni ADDs
//	fill <suite> <net> <workers> <ns|capargs;...>   attach background
//	                                                containers, <workers> at a time
//	quit
//
// add/del go through libcni, cadd/cdel exec our cnitool with the suite's
// CNI_PATH. Answers: "ok <wall_ns> <children_cpu_us> <ips,...|->" or
// "err <message>"; par answers "ok <wall_ns> <errors> <ip,...>".
// children_cpu_us is the user+sys time of the plugin processes (and their
// delegated IPAM) reaped during the operation (RUSAGE_CHILDREN delta).
//
// The container id is derived from the netns path as cnitool does, so the
// two runtimes address the same attachment.
package main

import (
	"bufio"
	"context"
	"crypto/sha512"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
)

type suite struct {
	path    string
	cache   string
	confdir string
	cni     *libcni.CNIConfig
	lists   map[string]*libcni.NetworkConfigList
}

var (
	suites  = map[string]*suite{}
	cnitool string
	mu      sync.Mutex // serialises rusage deltas
)

const (
	nsDir    = "/run/netns"
	sysSetns = 308 // setns(2) on linux/amd64; Go 1.19's syscall lacks the constant
)

func nsPath(name string) string { return filepath.Join(nsDir, name) }

func cid(path string) string {
	sum := sha512.Sum512([]byte(path))
	return fmt.Sprintf("cnitool-%x", sum[:10])
}

// nsAdd creates a named network namespace the way `ip netns add` does.
func nsAdd(name string) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := os.MkdirAll(nsDir, 0755); err != nil {
		return err
	}
	p := nsPath(name)
	f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	f.Close()
	orig, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", syscall.Gettid()))
	if err != nil {
		return err
	}
	defer orig.Close()
	if err := syscall.Unshare(syscall.CLONE_NEWNET); err != nil {
		os.Remove(p)
		return err
	}
	merr := syscall.Mount(fmt.Sprintf("/proc/self/task/%d/ns/net", syscall.Gettid()), p, "none", syscall.MS_BIND, "")
	if _, _, e := syscall.RawSyscall(sysSetns, orig.Fd(), syscall.CLONE_NEWNET, 0); e != 0 {
		panic(fmt.Sprintf("setns back: %v", e)) // this thread is lost; never reuse it
	}
	if merr != nil {
		os.Remove(p)
	}
	return merr
}

func nsDel(name string) error {
	p := nsPath(name)
	if err := syscall.Unmount(p, syscall.MNT_DETACH); err != nil {
		return err
	}
	return os.Remove(p)
}

func rusageChildrenUs() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru)
	return ru.Utime.Sec*1e6 + ru.Utime.Usec + ru.Stime.Sec*1e6 + ru.Stime.Usec
}

func (s *suite) list(net string) (*libcni.NetworkConfigList, error) {
	if l, ok := s.lists[net]; ok {
		return l, nil
	}
	l, err := libcni.LoadConfList(s.confdir, net)
	if err != nil {
		return nil, err
	}
	s.lists[net] = l
	return l, nil
}

func rtConf(ns, capargs, ifname string) (*libcni.RuntimeConf, error) {
	p := nsPath(ns)
	rt := &libcni.RuntimeConf{ContainerID: cid(p), NetNS: p, IfName: ifname}
	if capargs != "-" {
		if err := json.Unmarshal([]byte(capargs), &rt.CapabilityArgs); err != nil {
			return nil, err
		}
	}
	return rt, nil
}

func ips(r types.Result) string {
	if r == nil {
		return "-"
	}
	cr, err := current.NewResultFromResult(r)
	if err != nil || len(cr.IPs) == 0 {
		return "-"
	}
	var out []string
	for _, ip := range cr.IPs {
		out = append(out, ip.Address.IP.String())
	}
	return strings.Join(out, ",")
}

func libcniOp(op string, s *suite, net, ns, capargs, ifname string) (types.Result, error) {
	l, err := s.list(net)
	if err != nil {
		return nil, err
	}
	rt, err := rtConf(ns, capargs, ifname)
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	if op == "add" {
		return s.cni.AddNetworkList(ctx, l, rt)
	}
	return nil, s.cni.DelNetworkList(ctx, l, rt)
}

func cnitoolOp(op string, s *suite, net, ns, capargs, ifname string) (string, error) {
	cmd := exec.Command(cnitool, op, net, nsPath(ns), "-i", ifname)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "CNI_PATH=" + s.path, "NETCONFPATH=" + s.confdir, "CNI_CACHE_DIR=" + s.cache,
		"CNI_C_STATE_DIR=" + os.Getenv("CNI_C_STATE_DIR")}
	if capargs != "-" {
		cmd.Env = append(cmd.Env, "CAP_ARGS="+capargs)
	}
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%v: %s", err, strings.TrimSpace(errb.String()))
	}
	if op != "add" {
		return "-", nil
	}
	var r struct {
		IPs []struct{ Address string } `json:"ips"`
	}
	if json.Unmarshal([]byte(out.String()), &r) != nil || len(r.IPs) == 0 {
		return "-", nil
	}
	var l []string
	for _, ip := range r.IPs {
		l = append(l, strings.SplitN(ip.Address, "/", 2)[0])
	}
	return strings.Join(l, ","), nil
}

func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", " ") }

func handle(f []string) string {
	if len(f) == 0 {
		return "err empty"
	}
	switch f[0] {
	case "suite":
		if len(f) != 5 {
			return "err usage: suite name cni_path cache confdir"
		}
		suites[f[1]] = &suite{path: f[2], cache: f[3], confdir: f[4], lists: map[string]*libcni.NetworkConfigList{},
			cni: libcni.NewCNIConfigWithCacheDir(filepath.SplitList(f[2]), f[3], nil)}
		return "ok"
	case "cnitool":
		cnitool = f[1]
		return "ok"
	case "nsadd", "nsdel":
		t0 := time.Now()
		var err error
		if f[0] == "nsadd" {
			err = nsAdd(f[1])
		} else {
			err = nsDel(f[1])
		}
		if err != nil {
			return "err " + oneLine(err)
		}
		return fmt.Sprintf("ok %d 0 -", time.Since(t0).Nanoseconds())
	case "add", "del", "cadd", "cdel":
		if len(f) < 5 {
			return "err usage: op suite net ns capargs [ifname]"
		}
		s := suites[f[1]]
		if s == nil {
			return "err unknown suite"
		}
		ifname := "eth0"
		if len(f) > 5 {
			ifname = f[5]
		}
		c0 := rusageChildrenUs()
		t0 := time.Now()
		var ipl string
		var err error
		if f[0][0] == 'c' {
			ipl, err = cnitoolOp(f[0][1:], s, f[2], f[3], f[4], ifname)
		} else {
			var r types.Result
			r, err = libcniOp(f[0], s, f[2], f[3], f[4], ifname)
			ipl = ips(r)
		}
		wall := time.Since(t0).Nanoseconds()
		cpu := rusageChildrenUs() - c0
		if err != nil {
			return "err " + oneLine(err)
		}
		return fmt.Sprintf("ok %d %d %s", wall, cpu, ipl)
	case "par":
		if len(f) != 5 {
			return "err usage: par suite net capargs ns1,ns2,..."
		}
		s := suites[f[1]]
		if s == nil {
			return "err unknown suite"
		}
		names := strings.Split(f[4], ",")
		res := make([]string, len(names))
		errs := make([]error, len(names))
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, n := range names {
			wg.Add(1)
			go func(i int, n string) {
				defer wg.Done()
				<-start
				r, err := libcniOp("add", s, f[2], n, f[3], "eth0")
				res[i], errs[i] = ips(r), err
			}(i, n)
		}
		time.Sleep(50 * time.Millisecond) // let every goroutine park on start
		t0 := time.Now()
		close(start)
		wg.Wait()
		wall := time.Since(t0).Nanoseconds()
		nerr := 0
		for i, e := range errs {
			if e != nil {
				nerr++
				fmt.Fprintf(os.Stderr, "par %s: %v\n", names[i], e)
			}
		}
		return fmt.Sprintf("ok %d %d %s", wall, nerr, strings.Join(res, ","))
	case "fill":
		if len(f) != 5 {
			return "err usage: fill suite net workers ns|capargs;..."
		}
		s := suites[f[1]]
		if s == nil {
			return "err unknown suite"
		}
		var workers int
		fmt.Sscan(f[3], &workers)
		jobs := make(chan []string)
		var wg sync.WaitGroup
		var emu sync.Mutex
		var first error
		nerr := 0
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range jobs {
					_, err := libcniOp("add", s, f[2], j[0], j[1], "eth0")
					if err != nil {
						emu.Lock()
						nerr++
						if first == nil {
							first = err
						}
						emu.Unlock()
					}
				}
			}()
		}
		t0 := time.Now()
		for _, e := range strings.Split(f[4], ";") {
			jobs <- strings.SplitN(e, "|", 2)
		}
		close(jobs)
		wg.Wait()
		if first != nil {
			return fmt.Sprintf("err %d failed, first: %s", nerr, oneLine(first))
		}
		return fmt.Sprintf("ok %d 0 -", time.Since(t0).Nanoseconds())
	}
	return "err unknown command " + f[0]
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<24)
	out := bufio.NewWriter(os.Stdout)
	for in.Scan() {
		f := strings.Fields(in.Text())
		if len(f) == 1 && f[0] == "quit" {
			break
		}
		fmt.Fprintln(out, handle(f))
		out.Flush()
	}
}
