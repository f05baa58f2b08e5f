#!/usr/bin/env bash
# KataAgent build entry point.
#   ./build.sh          restore, build, publish out/kata-agent (with its spawn-chain helper out/kata-agent-init beside it),
#                       out/kata-image-pull, out/kactl and out/kata-rootfs
#                       (Native AOT), then the guest image: out/vmlinuz and out/initrd.img (and
#                       out/initrd-guest-pull.img, the same with guest pull), and kactl run's default
#                       container rootfs: out/rootfs (busybox)
#   ./build.sh test     the above, then every test; ends with "N passed, N failed"
#   ./build.sh bench [SECTION…]
#                       the above, then the benchmarks (see docs/BENCHMARKS.md); sections: foundation,
#                       containers, boot (VM boot beside the floor, memory, image size, launch-to-workload),
#                       workload (launch-to-workload alone), network (TCP node → pod per endpoint model),
#                       vsock (the agent channel in a VM: vsock beside virtio-serial), rootfs (container creation over
#                       virtio-fs beside blk), shim (the containerd shim beside runc: ctr run, CRI pod start, shim
#                       RSS), images (pull and unpack beside skopeo + umoci), pods (a pod of three through
#                       CreatePod beside per-container calls, resize latency), checkpoint (pod checkpoint and
#                       restore beside a cold boot to the same workload); all when none is named
#   ./build.sh demo     the above, then out/kactl run of a command that shows it ran in a VM's container
#   ./build.sh pack     the above, then the NuGet packages (KataAgent.Host and the three it depends on) into out/packages
#   ./build.sh install  the above, then installs the containerd runtime io.containerd.kataagent.v2 (as root; see
#                       docs/SHIM.md): containerd-shim-kataagent-v2 and kactl into $PREFIX/bin (/usr/local/bin, on
#                       containerd's PATH), the guest kernel and initrd into /usr/share/kataagent, a default
#                       /etc/kataagent/configuration.json when there is none; prints containerd's config snippet.
#                       DESTDIR=DIR stages the same tree under DIR.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="$ROOT/out"
CONFIGURATION="${CONFIGURATION:-Release}"
RID="${RID:-linux-x64}"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'build.sh: %s\n' "$*" >&2; exit 1; }

# Debian packages the build and the tests need, as "command:package" pairs.
REQUIRED_TOOLS=(
  "clang:clang"          # Native AOT links with clang
  "ip:iproute2"
  "setsid:util-linux"
  "cpio:cpio"                              # the rootfs tests compare our cpio writer with GNU cpio
  "qemu-system-x86_64:qemu-system-x86"     # guest boot tests (TCG without /dev/kvm)
  "crun:crun"                              # the benchmark's baseline
  "gcc:gcc"                                # the boot benchmark compiles its floor /init (static C)
  "nsenter:util-linux"
  "mount:mount"
  "losetup:mount"                          # blk storage tests: a loop device stands in for virtio-blk
  "mkfs.ext4:e2fsprogs"                    # ext4 disk images (blk storage tests, the Sandbox API)
  "passt:passt"                            # the passt network model (user-mode networking in the pod netns)
  "iptables-save:iptables"                 # GetIPTables/SetIPTables tests (inside a scratch netns)
  "containerd:containerd"                  # the shim's end-to-end tests run a private containerd (and ctr)
  "runc:runc"                              # the containerd harness is checked with runc; the shim bench's baseline
  "umoci:umoci"                            # the containerd tests' busybox OCI image, built offline
  "skopeo:skopeo"                          # ... and copied into a docker-archive for ctr images import
  "script:bsdutils"                        # ctr run -t under a pseudo-terminal
  "docker-registry:docker-registry"        # the image tests' local registry (in a netns the test creates)
  "htpasswd:apache2-utils"                 # ... its basic-auth file (bcrypt)
  "openssl:openssl"                        # ... its test CA and TLS certificate, and the token server's key
  "zstd:zstd"                              # tar+zstd test layers
  "flock:util-linux"                       # the content store test's second process holding a blob's lock
)
# e2fsprogs: Sandbox packs container rootfs directories into ext4 images (mkfs.ext4 -d); checked as a package
# because mkfs.ext4 lives in /sbin, which a non-root PATH lacks. kata-rootfs also copies its /sbin/mke2fs (and libraries)
# into the guest image, which formats pod volumes with it.
# libc6-dev: the static glibc of the benchmark's floor /init.
# qemu-system-common: /usr/lib/qemu/virtiofsd, the daemon behind every virtio-fs share (checked as a package: it is
# not on PATH).
# libssl3, ca-certificates: what kata-rootfs build --guest-pull copies into the guest image for TLS (libssl.so.3,
# libcrypto.so.3, /etc/ssl/certs/ca-certificates.crt).
# containernetworking-plugins: the CNI bridge and host-local plugins in /usr/lib/cni (not on PATH) for the CRI tests.
REQUIRED_PACKAGES=(zlib1g-dev busybox-static e2fsprogs libc6-dev qemu-system-common containernetworking-plugins libssl3 ca-certificates)
# libcap2-bin: setcap gives the layer tests' image a security.capability xattr (in /usr/sbin, off a non-root PATH).
REQUIRED_PACKAGES+=(libcap2-bin)

ensure_dependencies() {
  command -v dotnet >/dev/null 2>&1 || die "the .NET SDK 10 is missing: install dotnet-sdk-10.0 (https://learn.microsoft.com/dotnet/core/install/linux-debian) and run again"
  local missing=()
  local pair
  for pair in "${REQUIRED_TOOLS[@]}"; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
  done
  local package
  for package in "${REQUIRED_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing ${missing[*]}"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    die "missing Debian packages: ${missing[*]} (as root: apt-get install ${missing[*]})"
  fi
}

build() {
  ensure_dependencies
  log "restore and build"
  dotnet build "$ROOT/KataAgent.sln" -c "$CONFIGURATION" -nologo -v quiet -clp:ErrorsOnly
  mkdir -p "$OUT"
  log "publish kata-agent (Native AOT)"
  dotnet publish "$ROOT/agent/KataAgent.Agent/KataAgent.Agent.csproj" -c "$CONFIGURATION" -r "$RID" -nologo -v quiet -clp:ErrorsOnly -o "$OUT/publish/agent"
  rm -f "$OUT/kata-agent" && install -m 0755 "$OUT/publish/agent/kata-agent" "$OUT/kata-agent"
  # The agent looks for it beside itself (and kata-rootfs build beside --agent): every container process, the pause
  # process and the sandbox namespaces start from it, not from the agent's own, much larger, binary.
  log "publish kata-agent-init (Native AOT): the agent's spawn-chain helper"
  dotnet publish "$ROOT/agent/KataAgent.InitHelper/KataAgent.InitHelper.csproj" -c "$CONFIGURATION" -r "$RID" -nologo -v quiet -clp:ErrorsOnly -o "$OUT/publish/init-helper"
  rm -f "$OUT/kata-agent-init" && install -m 0755 "$OUT/publish/init-helper/kata-agent-init" "$OUT/kata-agent-init"
  log "publish kata-image-pull (Native AOT): the guest pull helper, only in a --guest-pull guest image"
  dotnet publish "$ROOT/agent/KataAgent.ImagePull/KataAgent.ImagePull.csproj" -c "$CONFIGURATION" -r "$RID" -nologo -v quiet -clp:ErrorsOnly -o "$OUT/publish/image-pull"
  rm -f "$OUT/kata-image-pull" && install -m 0755 "$OUT/publish/image-pull/kata-image-pull" "$OUT/kata-image-pull"
  log "publish kactl (Native AOT)"
  dotnet publish "$ROOT/hostlib/kactl/kactl.csproj" -c "$CONFIGURATION" -r "$RID" -nologo -v quiet -clp:ErrorsOnly -o "$OUT/publish/kactl"
  rm -f "$OUT/kactl" && install -m 0755 "$OUT/publish/kactl/kactl" "$OUT/kactl"
  log "publish containerd-shim-kataagent-v2 (Native AOT)"
  dotnet publish "$ROOT/shim/KataAgent.Shim/KataAgent.Shim.csproj" -c "$CONFIGURATION" -r "$RID" -nologo -v quiet -clp:ErrorsOnly -o "$OUT/publish/shim"
  rm -f "$OUT/containerd-shim-kataagent-v2" && install -m 0755 "$OUT/publish/shim/containerd-shim-kataagent-v2" "$OUT/containerd-shim-kataagent-v2"
  log "publish kata-rootfs (Native AOT)"
  dotnet publish "$ROOT/rootfs/kata-rootfs/kata-rootfs.csproj" -c "$CONFIGURATION" -r "$RID" -nologo -v quiet -clp:ErrorsOnly -o "$OUT/publish/kata-rootfs"
  rm -f "$OUT/kata-rootfs" && install -m 0755 "$OUT/publish/kata-rootfs/kata-rootfs" "$OUT/kata-rootfs"
  log "guest image (Debian cloud kernel, fetched once into ~/.cache/kataagent/kernel)"
  "$OUT/kata-rootfs" build --agent "$OUT/kata-agent" --out "$OUT/initrd.img" --kernel-out "$OUT/vmlinuz" --busybox /bin/busybox
  log "guest image with guest pull: out/initrd-guest-pull.img (kata-image-pull, TLS libraries, CA bundle)"
  "$OUT/kata-rootfs" build --agent "$OUT/kata-agent" --out "$OUT/initrd-guest-pull.img" --busybox /bin/busybox --guest-pull
  log "container rootfs out/rootfs (busybox-static), kactl run's default"
  rm -rf "$OUT/rootfs"
  "$OUT/kata-rootfs" busybox-rootfs --busybox /bin/busybox --out "$OUT/rootfs"
  log "out/kata-agent $(stat -c %s "$OUT/kata-agent") bytes, out/kata-agent-init $(stat -c %s "$OUT/kata-agent-init") bytes, out/kactl $(stat -c %s "$OUT/kactl") bytes, out/containerd-shim-kataagent-v2 $(stat -c %s "$OUT/containerd-shim-kataagent-v2") bytes"
}

run_tests() {
  local results="$OUT/test-results"
  rm -rf "$results" && mkdir -p "$results"
  log "tests"
  set +e
  # TestResultsRoot (tests/Directory.Build.targets): one TRX directory per test project, so no project's file
  # overwrites another's.
  dotnet test "$ROOT/KataAgent.sln" -c "$CONFIGURATION" --no-build -nologo -p:TestResultsRoot="$results" \
    --logger "console;verbosity=normal" --logger "trx;LogFilePrefix=results" 2>&1 | tee "$results/console.log"
  local status=${PIPESTATUS[0]}
  set -e
  summarize "$results"
  return "$status"
}

# Runs a command in a container in a fresh VM: the kernel it reports is the guest's (Debian's cloud
# kernel), not the host's, and the shell is PID 1 of its own pid namespace.
demo() {
  log "demo: host kernel $(uname -r); booting a VM with out/kactl run (under TCG, without /dev/kvm, that takes seconds)"
  # shellcheck disable=SC2016  # $$ and $(...) are for the guest's shell
  "$OUT/kactl" run -- sh -c 'echo "guest kernel: $(uname -r)"; echo "pid 1: $(tr "\0" " " </proc/1/cmdline | cut -c1-40)..."; echo "pid $$, hostname $(hostname)"; ps -o pid,comm; true'
}

# Installs the runtime from out/ (docs/SHIM.md, "Install"). containerd finds a runtime io.containerd.NAME.v2 as
# the binary containerd-shim-NAME-v2 on its PATH; the shim reads /etc/kataagent/configuration.json unless the
# runtime options or KATAAGENT_SHIM_CONFIG name another file. An existing configuration is the operator's: kept.
install_runtime() {
  local destdir="${DESTDIR:-}" prefix="${PREFIX:-/usr/local}"
  local bindir="$destdir$prefix/bin" sharedir="$destdir/usr/share/kataagent" confdir="$destdir/etc/kataagent"
  [ -n "$destdir" ] || [ "$(id -u)" -eq 0 ] || die "install writes $prefix/bin, /usr/share and /etc: run it as root (or set DESTDIR)"
  local file
  for file in containerd-shim-kataagent-v2 kactl vmlinuz initrd.img; do
    [ -f "$OUT/$file" ] || die "out/$file is missing: the build did not finish"
  done
  log "install $prefix/bin/containerd-shim-kataagent-v2, $prefix/bin/kactl"
  install -d -m 0755 "$bindir" "$sharedir" "$confdir"
  install -m 0755 "$OUT/containerd-shim-kataagent-v2" "$bindir/containerd-shim-kataagent-v2"
  install -m 0755 "$OUT/kactl" "$bindir/kactl"
  log "install /usr/share/kataagent/vmlinuz, /usr/share/kataagent/initrd.img"
  install -m 0644 "$OUT/vmlinuz" "$sharedir/vmlinuz"
  install -m 0644 "$OUT/initrd.img" "$sharedir/initrd.img"
  if [ -e "$confdir/configuration.json" ]; then
    log "keep /etc/kataagent/configuration.json (it exists)"
  else
    log "write /etc/kataagent/configuration.json"
    cat >"$confdir/configuration.json" <<'JSON'
{
  "kernel": "/usr/share/kataagent/vmlinuz",
  "initrd": "/usr/share/kataagent/initrd.img",
  "qemu": "qemu-system-x86_64",
  "virtiofsd": "/usr/lib/qemu/virtiofsd",
  "stateRoot": "/run/kataagent/shim",
  "allowKvm": true,
  "networkModel": "tcfilter",
  "agentTimeoutSeconds": 120,
  "debugConsole": false
}
JSON
    chmod 0644 "$confdir/configuration.json"
  fi
  cat <<'TOML'

# containerd: add to /etc/containerd/config.toml (version = 2), then `systemctl restart containerd`.
# ctr needs nothing more: ctr run --runtime io.containerd.kataagent.v2 IMAGE ID CMD...
# Kubernetes: a RuntimeClass with handler "kataagent".
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.kataagent]
  runtime_type = "io.containerd.kataagent.v2"
  privileged_without_host_devices = true
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.kataagent.options]
    ConfigPath = "/etc/kataagent/configuration.json"
TOML
}

# Sums the counters of every TRX file (one per test project, in a directory of its own) into the one closing
# line CI reads.
summarize() {
  local passed=0 failed=0 skipped=0 file counters
  for file in "$1"/*.trx "$1"/*/*.trx; do
    [ -f "$file" ] || continue
    counters=$(grep -o '<Counters [^>]*>' "$file" | head -1)
    passed=$((passed + $(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters")))
    failed=$((failed + $(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")))
    skipped=$((skipped + $(sed -n 's/.* notExecuted="\([0-9]*\)".*/\1/p' <<<"$counters")))
  done
  if [ "$skipped" -gt 0 ]; then
    echo "$passed passed, $failed failed, $skipped skipped"
  else
    echo "$passed passed, $failed failed"
  fi
}

case "${1:-build}" in
  build) build ;;
  test) build; run_tests ;;
  demo) build; demo ;;
  bench) build; dotnet run --project "$ROOT/tests/KataAgent.Bench/KataAgent.Bench.csproj" -c "$CONFIGURATION" -- "$ROOT" "${@:2}" ;;
  pack)
    build
    # KataAgent.Host depends on the three shared projects, which ship as packages of their own.
    for project in linux/KataAgent.Linux/KataAgent.Linux.csproj protocols/KataAgent.Protocols/KataAgent.Protocols.csproj image/KataAgent.Image/KataAgent.Image.csproj hostlib/KataAgent.Host/KataAgent.Host.csproj; do
      dotnet pack "$ROOT/$project" -c "$CONFIGURATION" -nologo -v quiet -o "$OUT/packages"
    done
    ls -l "$OUT/packages" ;;
  install) build; install_runtime ;;
  *) die "unknown command '$1' (build, test, demo, bench, pack, install)" ;;
esac
