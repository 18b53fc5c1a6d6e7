#!/usr/bin/env bash
# qemu-netlab: run a command as root inside a throw-away Debian-kernel VM
# (QEMU, TCG by default) so that kernel features missing from the host kernel
# (ipvlan, 8021q, dummy, macvlan, bridge, ...) can be tested for real.
#
# Usage: run.sh [options] EXTRA_DIR COMMAND...
#        run.sh --setup            (download + prepare only; prints what it uses)
#
#   EXTRA_DIR  directory copied into the guest at /extra (see -d); use '-' for none.
#              Shared-library dependencies of ELF files in it are copied too.
#   COMMAND    one argument: a bash script text (may contain ;, &&, pipes...);
#              several arguments: an argv, quoted for you.
#              Runs as root with bash in the guest, cwd = /extra, stdin = /dev/null.
#
# Exit status: the COMMAND's exit status; 124 = timed out; 125 = the VM
# did not report a status (kernel panic, qemu error, setup failure).
#
# Options:
#   -a ACCEL   auto|tcg|kvm  (auto = kvm only if the CPU shows vmx/svm; else tcg)
#   -m MEM     guest memory (default 512M)
#   -c N       vCPUs (default 1; >1 uses multi-threaded TCG)
#   -t SECS    wall-clock timeout for the whole VM run (default 300)
#   -k MODS    extra kernel modules to ship (space/comma separated, deps added);
#              'all-net' ships every module under net/ and drivers/net/
#   -p MODS    modules to modprobe before COMMAND (they are shipped too)
#   -b BINS    extra host programs to ship, with their shared libraries
#              (e.g. -b 'tc bridge nft'); found via PATH or given as paths
#   -f PATHS   extra host files/dirs to ship at the same path (ELF files in them
#              get their libraries too), e.g. dlopen()ed plugin dirs
#   -o DIR     overlay: copy DIR's contents onto the guest's / (repeatable)
#   -e VAR=VAL environment variable for COMMAND (repeatable)
#   -d DEST    guest path for EXTRA_DIR (default /extra)
#   -l FILE    write the full console log to FILE
#   -q         quiet: show only COMMAND's output (console tail shown on failure)
#   -I         interactive: console on this terminal (debugging; Ctrl-A x quits)
#
# Environment: NETLAB_CACHE (default /var/cache/qemu-netlab when root, else
# ~/.cache/qemu-netlab), NETLAB_KERNEL_PKG (default linux-image-cloud-amd64),
# NETLAB_APPEND (extra kernel command line), NETLAB_QEMU_ARGS (extra qemu args),
# NETLAB_NO_APT=1 (never call apt-get; use only what is cached/installed),
# NETLAB_TCG_OPTS (e.g. tb-size=64 to cut qemu RSS ~450M -> ~250M, a bit slower),
# NETLAB_MACHINE (default pc; 'microvm' boots ~0.5 s faster but needs a
# tsc_early_khz= hint under TCG, which run.sh adds from /proc/cpuinfo).
set -euo pipefail

SELF=$(readlink -f "${BASH_SOURCE[0]}")
DEFAULT_MODULES="ipvlan ipvtap macvlan macvtap 8021q dummy veth bridge br_netfilter
  vxlan geneve tun tap vrf ifb sch_ingress sch_tbf sch_htb act_mirred cls_u32
  cls_matchall cls_bpf act_bpf nf_tables nft_chain_nat nft_compat nft_ct nft_nat
  nft_masq nft_redir nft_reject_inet nft_fib_inet ip_tables ip6_tables
  iptable_filter iptable_nat iptable_mangle ip6table_filter ip6table_nat
  ip6table_mangle xt_MASQUERADE xt_conntrack xt_comment xt_mark xt_multiport
  xt_addrtype xt_nat xt_tcpudp nf_conntrack nf_nat"
DEFAULT_BINS="ip bash"

die() { echo "netlab: error: $*" >&2; exit 125; }
log() { [[ ${QUIET:-0} == 1 ]] || echo "netlab: $*" >&2; }

# ---------------------------------------------------------------- options
ACCEL=${NETLAB_ACCEL:-auto}; MEM=512M; CPUS=1; TIMEOUT=300; DEST=/extra
EXTRA_MODS=""; PRELOAD=""; EXTRA_BINS=""; EXTRA_FILES=""; OVERLAYS=(); ENVS=()
LOGFILE=""; QUIET=0; INTERACTIVE=0; SETUP_ONLY=0
if [[ ${1:-} == --setup ]]; then SETUP_ONLY=1; shift; fi
if [[ ${1:-} == -h || ${1:-} == --help ]]; then sed -n '2,/^set -euo/p' "$SELF" | sed '$d; s/^# \{0,1\}//'; exit 0; fi
while getopts ":a:m:c:t:k:p:b:f:o:e:d:l:qIh" opt; do
  case $opt in
    a) ACCEL=$OPTARG ;; m) MEM=$OPTARG ;; c) CPUS=$OPTARG ;; t) TIMEOUT=$OPTARG ;;
    k) EXTRA_MODS+=" ${OPTARG//,/ }" ;; p) PRELOAD+=" ${OPTARG//,/ }" ;;
    b) EXTRA_BINS+=" ${OPTARG//,/ }" ;; f) EXTRA_FILES+=" ${OPTARG//,/ }" ;;
    o) OVERLAYS+=("$OPTARG") ;; e) ENVS+=("$OPTARG") ;; d) DEST=$OPTARG ;;
    l) LOGFILE=$OPTARG ;; q) QUIET=1 ;; I) INTERACTIVE=1 ;;
    h) sed -n '2,/^set -euo/p' "$SELF" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    :) die "option -$OPTARG needs a value" ;; *) die "unknown option -$OPTARG (see -h)" ;;
  esac
done
shift $((OPTIND - 1))
if [[ $SETUP_ONLY == 0 ]]; then
  [[ $# -ge 2 ]] || die "usage: run.sh [options] EXTRA_DIR COMMAND...  (-h for help)"
  EXTRA_DIR=$1; shift
  [[ $EXTRA_DIR == - || -d $EXTRA_DIR ]] || die "EXTRA_DIR '$EXTRA_DIR' is not a directory"
  [[ $DEST == /* ]] || die "-d DEST must be absolute"
fi
[[ $(id -u) == 0 ]] || log "not root: apt-get installs will fail unless qemu is already installed"

if [[ -z ${NETLAB_CACHE:-} ]]; then
  if [[ $(id -u) == 0 ]]; then NETLAB_CACHE=/var/cache/qemu-netlab
  else NETLAB_CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/qemu-netlab; fi
fi
mkdir -p "$NETLAB_CACHE/debs"
KPKG=${NETLAB_KERNEL_PKG:-linux-image-cloud-amd64}

# ---------------------------------------------------------------- host setup
APT_UPDATED=0
apt_update_once() {
  [[ ${NETLAB_NO_APT:-0} == 1 ]] && die "NETLAB_NO_APT=1 but something must be fetched"
  if [[ $APT_UPDATED == 0 ]]; then
    log "apt-get update"; apt-get update -qq >&2 || die "apt-get update failed"; APT_UPDATED=1
  fi
}
apt_install() { # packages...
  [[ ${NETLAB_NO_APT:-0} == 1 ]] && die "NETLAB_NO_APT=1 but packages missing: $*"
  log "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >&2 \
    || { apt_update_once; DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >&2; } \
    || die "apt-get install $* failed"
}
need_cmd() { # command package
  command -v "$1" >/dev/null 2>&1 || apt_install "$2"
  command -v "$1" >/dev/null 2>&1 || die "$1 still missing after installing $2"
}
need_cmd qemu-system-x86_64 qemu-system-x86
need_cmd ip iproute2
need_cmd flock util-linux
need_cmd dpkg-deb dpkg

# resolve a (meta)package to the concrete package apt would download
resolve_pkg() { # name -> concrete package name (follows linux-image-* metapackages)
  local name=$1 dep
  if [[ $name == linux-image-* && $name != linux-image-[0-9]* ]]; then
    dep=$(apt-cache depends --no-recommends --no-suggests "$name" 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
    if [[ -z $dep && ${NETLAB_NO_APT:-0} != 1 ]]; then
      apt_update_once
      dep=$(apt-cache depends --no-recommends --no-suggests "$name" 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
    fi
    echo "$dep"
  else
    echo "$name"
  fi
}
# fetch + extract a .deb into $NETLAB_CACHE/pkg/<name>_<version>; prints that dir
fetch_pkg() { # package
  local pkg=$1 ver dir deb
  ver=$(apt-cache policy "$pkg" 2>/dev/null | awk '/Candidate:/{print $2}')
  if [[ -z $ver || $ver == "(none)" ]]; then
    # offline / no lists: reuse the newest cached extraction
    dir=""; for d in "$NETLAB_CACHE/pkg/${pkg}_"*; do [[ -e $d/.done ]] && dir=$d; done
    if [[ -z $dir && ${NETLAB_NO_APT:-0} != 1 ]]; then
      apt_update_once
      ver=$(apt-cache policy "$pkg" 2>/dev/null | awk '/Candidate:/{print $2}')
    fi
    if [[ -z $dir ]]; then [[ -n $ver && $ver != "(none)" ]] || die "package $pkg not found"; fi
  fi
  [[ -n ${dir:-} ]] || dir="$NETLAB_CACHE/pkg/${pkg}_${ver//:/%3a}"
  if [[ ! -e $dir/.done ]]; then
    [[ ${NETLAB_NO_APT:-0} == 1 ]] && die "NETLAB_NO_APT=1 but $pkg is not cached"
    log "downloading $pkg $ver"
    (cd "$NETLAB_CACHE/debs" && apt-get download -q "$pkg=$ver" >&2 2>/dev/null) \
      || { apt_update_once; (cd "$NETLAB_CACHE/debs" && apt-get download -q "$pkg=$ver" >&2); } \
      || die "apt-get download $pkg failed"
    deb=$(ls "$NETLAB_CACHE/debs/${pkg}_${ver//:/%3a}_"*.deb | head -1)
    rm -rf "$dir.tmp"; mkdir -p "$dir.tmp"
    dpkg-deb -x "$deb" "$dir.tmp"
    touch "$dir.tmp/.done"; rm -rf "$dir"; mv "$dir.tmp" "$dir"
    rm -f "$deb"   # the extracted tree is all we use
  fi
  echo "$dir"
}

exec 9>"$NETLAB_CACHE/.lock"
flock 9   # serialize cache population between concurrent runs

# apt-cache look-ups cost ~1 s; remember their answer until the apt lists change
STAMP="v1 $KPKG $(stat -c %Y /var/lib/apt/lists 2>/dev/null || echo none)"
KDIR=""; BBDIR=""
if [[ -f $NETLAB_CACHE/resolved ]]; then
  { read -r s1; read -r k1; read -r b1; } < "$NETLAB_CACHE/resolved" || true
  if [[ ${s1:-} == "$STAMP" && -e ${k1:-/nonexistent}/.done && -e ${b1:-/nonexistent}/.done ]]; then KDIR=$k1; BBDIR=$b1; fi
fi
if [[ -z $KDIR ]]; then
  KPKG_REAL=$(resolve_pkg "$KPKG")
  if [[ -z $KPKG_REAL ]]; then
    # offline and no lists: newest cached kernel
    for d in "$NETLAB_CACHE"/pkg/linux-image-[0-9]*; do [[ -e $d/.done ]] && KDIR=$d; done
    [[ -n $KDIR ]] || die "cannot resolve $KPKG (no apt lists, nothing cached)"
  else
    KDIR=$(fetch_pkg "$KPKG_REAL")
  fi
  BBDIR=$(fetch_pkg busybox)     # dynamic busybox: the static one prefers its applets over PATH
  STAMP="v1 $KPKG $(stat -c %Y /var/lib/apt/lists 2>/dev/null || echo none)"   # apt-get update may have run
  printf '%s\n%s\n%s\n' "$STAMP" "$KDIR" "$BBDIR" > "$NETLAB_CACHE/resolved"
fi
BUSYBOX=$BBDIR/bin/busybox
VMLINUZ=$(ls "$KDIR"/boot/vmlinuz-* | head -1)
KVER=${VMLINUZ##*/vmlinuz-}
KMODS=$KDIR/lib/modules/$KVER
if [[ ! -s $KMODS/modules.dep ]]; then
  log "depmod for $KVER"
  "$BUSYBOX" depmod -b "$KDIR" "$KVER" || die "depmod failed"
fi

# ---------------------------------------------------------------- staging helpers
# canonical path inside a merged-/usr guest
canon() {
  local p=$1
  case $p in
    /bin/*) p=/usr/bin/${p#/bin/} ;; /sbin/*) p=/usr/sbin/${p#/sbin/} ;;
    /lib/*) p=/usr/lib/${p#/lib/} ;; /lib64/*) p=/usr/lib64/${p#/lib64/} ;;
    /bin|/sbin|/lib|/lib64) p=/usr$p ;;
  esac
  echo "$p"
}
is_elf() { [[ -f $1 && $(head -c 4 "$1" 2>/dev/null | od -An -c | tr -d ' \n') == '177ELF' ]]; }
# copy the shared-library closure of an ELF file (as ldd sees it on the host) into $1
copy_libs() { # stage elf
  local st=$1 f=$2 out l c
  out=$(ldd "$f" 2>/dev/null) || return 0          # static or not an executable
  if grep -q 'not found' <<<"$out"; then
    echo "netlab: warning: $f: $(grep 'not found' <<<"$out" | tr -s ' \t\n' ' ')" >&2
  fi
  for l in $(grep -o '/[^ ]*' <<<"$out"); do
    [[ -e $l ]] || continue
    c=$(canon "$l")
    [[ -e $st$c ]] && continue
    mkdir -p "$st$(dirname "$c")"; cp -L "$l" "$st$c"
  done
}
copy_host_bin() { # stage name-or-path
  local st=$1 b=$2 p c
  if [[ $b == */* ]]; then p=$b; else p=$(command -v "$b" 2>/dev/null || true); fi
  [[ -n $p && -e $p ]] || die "host program '$b' not found (install it or drop it from -b)"
  c=$(canon "$p"); mkdir -p "$st$(dirname "$c")"; rm -f "$st$c"; cp -L "$p" "$st$c"
  copy_libs "$st" "$p"
  echo "${c##*/}"
}
make_layout() { # stage : merged-/usr symlinks
  mkdir -p "$1/usr/bin" "$1/usr/sbin" "$1/usr/lib" "$1/usr/lib64"
  ln -sfn usr/bin "$1/bin"; ln -sfn usr/sbin "$1/sbin"
  ln -sfn usr/lib "$1/lib"; ln -sfn usr/lib64 "$1/lib64"
}
# module names -> relative .ko paths incl. dependencies (from modules.dep)
resolve_modules() {
  local want=" $* " files=()
  [[ -f $KMODS/modules.builtin ]] && files+=("$KMODS/modules.builtin")
  files+=("$KMODS/modules.dep")
  awk -v want="$want" '
    BEGIN { n = split(want, w, " "); for (i = 1; i <= n; i++) { x = w[i]; gsub("-", "_", x); W[x] = 1 }
            allnet = ("all_net" in W) }
    FILENAME ~ /modules\.builtin$/ { name = $1; sub(".*/", "", name); sub("\\.ko$", "", name); gsub("-", "_", name); FOUND[name] = 1; next }
    { path = $1; sub(":$", "", path); name = path; sub(".*/", "", name); sub("\\.ko(\\..*)?$", "", name); gsub("-", "_", name)
      if ((name in W) || (allnet && (path ~ /^kernel\/net\// || path ~ /^kernel\/drivers\/net\//))) {
        print path; for (i = 2; i <= NF; i++) print $i; FOUND[name] = 1 } }
    END { for (x in W) if (x != "all_net" && !(x in FOUND)) print "MISSING " x > "/dev/stderr" }
  ' "${files[@]}" | sort -u
}

# ---------------------------------------------------------------- base initramfs (cached)
ALL_MODS="$DEFAULT_MODULES $EXTRA_MODS $PRELOAD"
ALL_BINS="$DEFAULT_BINS $EXTRA_BINS"
BASE_KEY=$( { echo v3 "$KVER" "$BBDIR" "$(cat "$KMODS/modules.dep" | wc -c)"; echo $ALL_MODS | tr ' ' '\n' | sort -u;
             for b in $ALL_BINS; do p=$(command -v "$b" 2>/dev/null || echo "$b"); echo "$b $(stat -Lc '%s %Y' "$p" 2>/dev/null)"; done;
             for f in $EXTRA_FILES; do echo "$f $(find "$f" -printf '%s %T@\n' 2>/dev/null | md5sum)"; done;
             md5sum < "$SELF"; } | md5sum | cut -c1-16)   # any edit of this script rebuilds the base
BASE_CPIO=$NETLAB_CACHE/base-$KVER-$BASE_KEY.cpio
if [[ ! -s $BASE_CPIO ]]; then
  log "building base initramfs ($BASE_CPIO)"
  ST=$(mktemp -d "$NETLAB_CACHE/stage.XXXXXX")
  trap 'rm -rf "$ST"' EXIT
  make_layout "$ST"
  mkdir -p "$ST"/{proc,sys,dev,run,tmp,root,etc,mnt,netlab,var/lib,var/log,opt,usr/local/bin,usr/local/sbin}
  ln -sfn ../run "$ST/var/run"
  mkdir -p "$ST/usr/bin"; cp "$BUSYBOX" "$ST/usr/bin/busybox"; copy_libs "$ST" "$BUSYBOX"
  declare -A HOSTNAMES=()
  for b in $ALL_BINS; do n=$(copy_host_bin "$ST" "$b"); HOSTNAMES[$n]=1; done
  for f in $EXTRA_FILES; do
    [[ -e $f ]] || die "-f $f: not found"
    c=$(canon "$(readlink -f "$f")")
    if [[ -d $f ]]; then mkdir -p "$ST$c"; cp -aL "$f/." "$ST$c/"; else mkdir -p "$ST$(dirname "$c")"; cp -L "$f" "$ST$c"; fi
    if [[ -d $f ]]; then while read -r g; do if is_elf "$g"; then copy_libs "$ST" "$g"; fi; done < <(find "$f" -type f)
    elif is_elf "$f"; then copy_libs "$ST" "$f"; fi
  done
  # busybox applets for everything the host programs don't provide
  while read -r a; do
    n=${a##*/}; [[ -n ${HOSTNAMES[$n]:-} || $n == linuxrc ]] && continue
    c=$(canon "/$a"); [[ -e $ST$c || -L $ST$c ]] && continue
    mkdir -p "$ST$(dirname "$c")"; ln -s /usr/bin/busybox "$ST$c"
  done < <("$BUSYBOX" --list-full)
  [[ -e $ST/usr/bin/sh || -L $ST/usr/bin/sh ]] || ln -s busybox "$ST/usr/bin/sh"
  # kernel modules
  mods=$(resolve_modules $ALL_MODS 2> "$ST/.missing") || die "module resolution failed"
  if [[ -s $ST/.missing ]]; then echo "netlab: warning: modules not in $KVER:" "$(sed 's/MISSING //' "$ST/.missing" | tr '\n' ' ')" >&2; fi
  rm -f "$ST/.missing"
  for m in $mods; do mkdir -p "$ST/usr/lib/modules/$KVER/$(dirname "$m")"; cp "$KMODS/$m" "$ST/usr/lib/modules/$KVER/$m"; done
  cp "$KMODS/modules.builtin" "$ST/usr/lib/modules/$KVER/" 2>/dev/null || true
  cp "$KMODS/modules.order" "$ST/usr/lib/modules/$KVER/" 2>/dev/null || true
  "$BUSYBOX" depmod -b "$ST" "$KVER" || die "depmod (stage) failed"
  # minimal /etc
  printf 'root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' > "$ST/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$ST/etc/group"
  printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' > "$ST/etc/hosts"
  printf 'passwd: files\ngroup: files\nhosts: files\n' > "$ST/etc/nsswitch.conf"
  : > "$ST/etc/resolv.conf"; echo netlab > "$ST/etc/hostname"
  for d in /usr/share/iproute2 /etc/iproute2; do [[ -d $d ]] && { mkdir -p "$ST$d"; cp -a "$d/." "$ST$d/"; }; done
  # guest init
  cat > "$ST/init" <<'INIT'
#!/bin/sh
# qemu-netlab guest init (PID 1)
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin; export PATH
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1
mkdir -p /dev/pts /dev/shm /dev/net
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=755 tmpfs /run
mkdir -p /run/netns /run/lock
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
mount -t bpf bpf /sys/fs/bpf 2>/dev/null
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
hostname netlab
ip link set lo up
echo /sbin/modprobe > /proc/sys/kernel/modprobe
. /netlab/vars
for m in $NETLAB_PRELOAD; do modprobe "$m" || echo "netlab: modprobe $m failed"; done
cd "$NETLAB_DEST" 2>/dev/null || cd /
echo "netlab: guest up after $(cut -d' ' -f1 /proc/uptime)s, kernel $(uname -r)"
echo "netlab-begin-$NETLAB_NONCE"
if [ "$NETLAB_INTERACTIVE" = 1 ]; then
  setsid cttyhack /usr/bin/bash /netlab/cmd
else
  /usr/bin/bash /netlab/cmd </dev/null
fi
rc=$?
echo
echo "netlab-exit-$NETLAB_NONCE: $rc"
sync
poweroff -f
sleep 5; echo o > /proc/sysrq-trigger
INIT
  chmod 755 "$ST/init"
  rm -f "$BASE_CPIO.tmp"
  chmod 755 "$ST"   # becomes the guest's / (mktemp made it 0700)
  (cd "$ST" && find . | LC_ALL=C sort | "$BUSYBOX" cpio -o -H newc -R 0:0 > "$BASE_CPIO.tmp" 2>/dev/null) || die "cpio failed"
  mv "$BASE_CPIO.tmp" "$BASE_CPIO"
  rm -rf "$ST"; trap - EXIT
  # keep the 6 most recently built base archives
  ls -t "$NETLAB_CACHE"/base-*.cpio 2>/dev/null | tail -n +7 | xargs -r rm -f
fi
touch "$BASE_CPIO"
flock -u 9

if [[ $SETUP_ONLY == 1 ]]; then
  echo "netlab: qemu:   $(qemu-system-x86_64 --version | head -1)"
  echo "netlab: kernel: $VMLINUZ ($KVER)"
  echo "netlab: base initramfs: $BASE_CPIO ($(du -h "$BASE_CPIO" | cut -f1))"
  exit 0
fi

# ---------------------------------------------------------------- per-run archive
WORK=$(mktemp -d "${TMPDIR:-/tmp}/netlab.XXXXXX")
cleanup() { rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
RS=$WORK/stage; make_layout "$RS"; mkdir -p "$RS/netlab"
if [[ $EXTRA_DIR != - ]]; then
  mkdir -p "$RS$(canon "$DEST")"
  cp -a "$EXTRA_DIR/." "$RS$(canon "$DEST")/"
  while read -r g; do if is_elf "$g"; then copy_libs "$RS" "$g"; fi; done < <(find "$EXTRA_DIR" -type f)
fi
for o in "${OVERLAYS[@]}"; do
  [[ -d $o ]] || die "-o $o: not a directory"
  while read -r g; do
    c=$(canon "/${g#./}"); mkdir -p "$RS$(dirname "$c")"; cp -a "$o/$g" "$RS$c"
    if is_elf "$o/$g"; then copy_libs "$RS" "$o/$g"; fi
  done < <(cd "$o" && find . -mindepth 1 \( -type f -o -type l \) -print)
done
NONCE=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
if [[ $# -eq 1 ]]; then printf '%s\n' "$1" > "$RS/netlab/cmd"
else printf '%q ' "$@" > "$RS/netlab/cmd"; echo >> "$RS/netlab/cmd"; fi
{
  printf 'NETLAB_NONCE=%s\nNETLAB_DEST=%s\nNETLAB_INTERACTIVE=%s\n' "$NONCE" "'$DEST'" "$INTERACTIVE"
  printf 'NETLAB_PRELOAD="%s"\n' "$(echo $PRELOAD)"
} > "$RS/netlab/vars"
{
  echo "export PATH='$DEST/bin:$DEST:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'"
  echo "export HOME=/root TERM=${TERM:-linux}"
  for e in "${ENVS[@]}"; do [[ $e == *=* ]] || die "-e $e: need VAR=VALUE"; printf 'export %s=%q\n' "${e%%=*}" "${e#*=}"; done
  echo 'exec 2>&1'
} > "$RS/netlab/prologue"
# the command runs after the prologue in the same bash
{ cat "$RS/netlab/prologue"; cat "$RS/netlab/cmd"; } > "$RS/netlab/cmd.full"
mv "$RS/netlab/cmd.full" "$RS/netlab/cmd"; rm -f "$RS/netlab/prologue"
# drop the merged-/usr top-level links from the run archive (base has them)
rm -f "$RS/bin" "$RS/sbin" "$RS/lib" "$RS/lib64"
(cd "$RS" && find . -mindepth 1 | LC_ALL=C sort | "$BUSYBOX" cpio -o -H newc -R 0:0 > "$WORK/run.cpio" 2>/dev/null) || die "cpio (run) failed"
cat "$BASE_CPIO" "$WORK/run.cpio" > "$WORK/initrd.cpio"

# ---------------------------------------------------------------- boot
if [[ $ACCEL == auto ]]; then
  if [[ -w /dev/kvm ]] && grep -qwE 'vmx|svm' /proc/cpuinfo; then ACCEL=kvm; else ACCEL=tcg; fi
fi
case $ACCEL in
  kvm) ACC=(-accel kvm -cpu host) ;;
  tcg) TCGO="tcg${NETLAB_TCG_OPTS:+,$NETLAB_TCG_OPTS}"; [[ $CPUS -gt 1 ]] && TCGO+=",thread=multi"
       ACC=(-accel "$TCGO" -cpu max) ;;
  *) die "-a must be auto, tcg or kvm" ;;
esac
APPEND="console=ttyS0 quiet loglevel=4 panic=-1 oops=panic rdinit=/init ${NETLAB_APPEND:-}"
MACHINE=${NETLAB_MACHINE:-pc}
if [[ $MACHINE == microvm* && $ACCEL == tcg && $APPEND != *tsc_early_khz=* ]]; then
  # microvm has no HPET/ACPI PM timer; under TCG the PIT calibration of the TSC fails
  # about 1 boot in 4 and the guest hangs. TCG's guest TSC runs at the host TSC rate.
  KHZ=$(awk -F: '/^cpu MHz/{printf "%d", $2*1000; exit}' /proc/cpuinfo)
  [[ -n $KHZ ]] && APPEND+=" tsc_early_khz=$KHZ"
fi
QEMU=(qemu-system-x86_64 -M "$MACHINE" "${ACC[@]}" -m "$MEM" -smp "$CPUS"
      -nodefaults -no-user-config -display none -vga none -no-reboot -nic none
      -kernel "$VMLINUZ" -initrd "$WORK/initrd.cpio" -append "$APPEND")
# shellcheck disable=SC2206
[[ -n ${NETLAB_QEMU_ARGS:-} ]] && QEMU+=($NETLAB_QEMU_ARGS)
log "booting $KVER ($MACHINE) with $ACCEL, -m $MEM, -smp $CPUS, initrd $(( $(stat -c %s "$WORK/initrd.cpio") / 1024 ))K"
CONSOLE_LOG=${LOGFILE:-$WORK/console.log}
T0=$(date +%s.%N)
set +e
if [[ $INTERACTIVE == 1 ]]; then
  timeout --foreground -k 5 "$TIMEOUT" "${QEMU[@]}" -serial mon:stdio | tee "$CONSOLE_LOG"
  QST=${PIPESTATUS[0]}
else
  # strip terminal control sequences and CRs; in quiet mode show only the command's output
  timeout -k 5 "$TIMEOUT" "${QEMU[@]}" -serial stdio </dev/null 2>&1 \
    | sed -u -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\x1b[c()][0-9A-Za-z]\{0,1\}//g' -e 's/\r$//' \
    | tee "$CONSOLE_LOG" \
    | if [[ $QUIET == 1 ]]; then
        awk -v b="netlab-begin-$NONCE" -v e="netlab-exit-$NONCE:" '
          index($0,e)==1 { on=0; pend=""; next }
          on { if ($0 == "") { pend = pend "\n"; next } printf "%s%s\n", pend, $0; pend=""; fflush() }
          index($0,b)==1 { on=1 }'
      else cat; fi
  QST=${PIPESTATUS[0]}
fi
set -e
T1=$(date +%s.%N)
RC=$(grep -a -o "netlab-exit-$NONCE: [0-9]*" "$CONSOLE_LOG" | tail -1 | awk '{print $2}' || true)
ELAPSED=$(awk -v a="$T0" -v b="$T1" 'BEGIN{printf "%.1f", b-a}')
if [[ -n $RC ]]; then
  log "command exited $RC; VM wall time ${ELAPSED}s"
  exit "$RC"
fi
if grep -aq 'KVM internal error' "$CONSOLE_LOG"; then
  echo "netlab: error: KVM could not run this kernel (a PVM-style /dev/kvm without vmx/svm cannot run stock kernels); use -a tcg" >&2
fi
if [[ $QST == 124 || $QST == 137 ]]; then
  echo "netlab: error: timed out after ${TIMEOUT}s (VM wall time ${ELAPSED}s)" >&2
  [[ $QUIET == 1 ]] && tail -n 40 "$CONSOLE_LOG" >&2
  exit 124
fi
echo "netlab: error: no exit status from the guest (qemu status $QST, ${ELAPSED}s); console tail:" >&2
tail -n 40 "$CONSOLE_LOG" >&2
exit 125
