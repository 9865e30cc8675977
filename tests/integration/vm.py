"""A small qemu guest for tests that need a host layout this machine does not have (a pure
cgroup v2 hierarchy): Debian's own kernel, fetched with `apt-get download` and unpacked into a
cache directory (never installed on the host), booted directly (-kernel/-initrd, no boot
loader) with a tiny initramfs built here from Debian's busybox-static and the virtio, 9p and
overlay modules of that kernel package. KVM where it can run that kernel, qemu's TCG
otherwise (see accelerator()).

The guest's root is the host's / shared read-only over virtio-9p, under an overlay whose upper
layer is a tmpfs, with tmpfs on /tmp and /run (box's stores and overlays live there), and
cgroup2 alone on /sys/fs/cgroup with the controllers enabled at the root as systemd does. A
second, writable 9p share (the host's out_dir, at /out in the guest) carries the script to run
(/out/run.sh) and whatever it leaves behind. The console is the serial port: the init prints
"BOX-VM-EXIT <status>" after the script and powers off; the host kills qemu after a timeout.

Used by test_cgroup_v2.py; by hand: python3 tests/integration/vm.py -- COMMAND..."""
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

CACHE = Path(os.environ.get("BOX_VM_CACHE",
                            Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
                            / "box-vm"))
BUSYBOX = Path("/bin/busybox")
QEMU = "qemu-system-x86_64"
EXIT_MARK = "BOX-VM-EXIT"

# modules the initramfs loads, in this order after their dependencies
MODULES = ["virtio_pci", "9pnet_virtio", "9p", "overlay"]

INIT = r"""#!/bin/busybox sh
# box test VM init: mounts, the host's root over 9p, then /out/run.sh in it (as pid 1, after switch_root)
/bin/busybox --install -s /bin
export PATH=/bin
fail() { echo "box-vm: $*"; echo "BOX-VM-EXIT 255"; poweroff -f; }
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in $(cat /modules); do insmod "/lib/modules/$m" || fail "insmod $m"; done
mkdir -p /host /rw /newroot
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=524288 host /host \
  || fail "mount the host's root"
mount -t tmpfs -o mode=0755 tmpfs /rw
mkdir /rw/upper /rw/work
mount -t overlay -o lowerdir=/host,upperdir=/rw/upper,workdir=/rw/work overlay /newroot \
  || fail "mount the overlay root"
for d in dev proc sys run tmp out; do mkdir -p /newroot/$d; done
mount --move /dev /newroot/dev
mount -t proc proc /newroot/proc
mount -t sysfs sysfs /newroot/sys
mount -t cgroup2 -o nsdelegate cgroup2 /newroot/sys/fs/cgroup || fail "mount cgroup2"
controllers=""
for c in $(cat /newroot/sys/fs/cgroup/cgroup.controllers); do controllers="$controllers +$c"; done
echo "$controllers" > /newroot/sys/fs/cgroup/cgroup.subtree_control \
  || fail "enable the controllers$controllers"
mount -t tmpfs -o mode=1777 tmpfs /newroot/tmp
mount -t tmpfs -o mode=0755 tmpfs /newroot/run
# the host's root as it is, for paths the tmpfs above hide (see expose_script)
mkdir -p /newroot/run/box-vm-host
mount --bind /host /newroot/run/box-vm-host || fail "bind the host's root"
mkdir -p /newroot/dev/pts /newroot/dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts /newroot/dev/pts
mount -t tmpfs tmpfs /newroot/dev/shm
mount -t 9p -o trans=virtio,version=9p2000.L,cache=none,msize=524288 out /newroot/out \
  || fail "mount the out share"
read up rest < /proc/uptime
echo "box-vm: booted in ${up}s"
# a real root, not a chroot: the kernel refuses new user namespaces to chrooted processes
exec switch_root /newroot /bin/sh -c \
  '/bin/sh /out/run.sh; echo "BOX-VM-EXIT $?"; exec /bin/busybox poweroff -f'
"""


def cpu_model():
    """The guest's CPU model under KVM: the host's own; BOX_VM_CPU overrides."""
    return os.environ.get("BOX_VM_CPU", "host")


def accelerator():
    """"kvm", or "tcg" (qemu's own translator) where KVM cannot run a stock kernel. These
    machines are themselves guests whose /dev/kvm is kvm_pvm (pagetable-based virtual
    machines): it runs only kernels built as PVM guests, and a stock Debian kernel never gets
    past its decompressor there. BOX_VM_ACCEL overrides."""
    if os.environ.get("BOX_VM_ACCEL"):
        return os.environ["BOX_VM_ACCEL"]
    if Path("/sys/module/kvm_pvm").exists() or not kvm_usable():
        return "tcg"
    return "kvm"


def accel_args():
    if accelerator() == "kvm":
        return ["-accel", "kvm", "-cpu", cpu_model()]
    return ["-accel", "tcg,thread=multi", "-cpu", "max"]


def kvm_usable():
    return os.access("/dev/kvm", os.R_OK | os.W_OK)


def _run(cmd, **kwargs):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=600, **kwargs)


def kernel_package():
    """The kernel package Debian's linux-image-amd64 currently depends on."""
    out = _run(["apt-cache", "depends", "linux-image-amd64"]).stdout
    m = re.search(r"Depends: (linux-image-[0-9][^\s]*-amd64)\b", out)
    if not m:
        raise RuntimeError(f"no kernel package in `apt-cache depends linux-image-amd64`:\n{out}")
    return m.group(1)


def fetch_kernel():
    """Downloads and unpacks the kernel package once; returns its unpacked directory."""
    package = kernel_package()
    root = CACHE / package
    if (root / ".complete").exists():
        return root
    CACHE.mkdir(parents=True, exist_ok=True)
    download = CACHE / "download"
    shutil.rmtree(download, ignore_errors=True)
    download.mkdir()
    _run(["apt-get", "download", "-q", "-o", "APT::Sandbox::User=root", package],
         cwd=download)
    debs = list(download.glob("*.deb"))
    if len(debs) != 1:
        raise RuntimeError(f"apt-get download {package} left {debs}")
    shutil.rmtree(root, ignore_errors=True)
    _run(["dpkg-deb", "-x", str(debs[0]), str(root)])
    shutil.rmtree(download)
    (root / ".complete").touch()
    return root


def _kernel_paths(kroot):
    vmlinuz = sorted((kroot / "boot").glob("vmlinuz-*"))
    if len(vmlinuz) != 1:
        raise RuntimeError(f"no single vmlinuz in {kroot}/boot")
    release = vmlinuz[0].name[len("vmlinuz-"):]
    return vmlinuz[0], kroot / "lib" / "modules" / release


def _module_depends(path):
    """The depends= entry of a module's .modinfo section."""
    data = path.read_bytes()
    m = re.search(rb"(?:^|\0)depends=([^\0]*)\0", data)
    if not m:
        return []
    return [d for d in m.group(1).decode().split(",") if d]


def _module_order(moddir, wanted):
    files = {}
    for p in moddir.rglob("*.ko"):
        files[p.stem.replace("-", "_")] = p
    order, seen = [], set()

    def visit(name):
        name = name.replace("-", "_")
        if name in seen:
            return
        seen.add(name)
        if name not in files:
            raise RuntimeError(f"module {name} is not in {moddir}")
        for dep in _module_depends(files[name]):
            visit(dep)
        order.append(files[name])

    for name in wanted:
        visit(name)
    return order


def _cpio_newc(entries):
    """entries: (name, mode, data bytes, rdev (major, minor)) -> a newc archive."""
    out = bytearray()

    def pad():
        out.extend(b"\0" * (-len(out) % 4))

    for ino, (name, mode, data, rdev) in enumerate(
            entries + [("TRAILER!!!", 0, b"", (0, 0))], start=1):
        encoded = name.encode() + b"\0"
        fields = [ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(encoded), 0]
        out.extend(b"070701" + b"".join(b"%08X" % f for f in fields))
        out.extend(encoded)
        pad()
        out.extend(data)
        pad()
    return bytes(out)


def build_initramfs(kroot):
    """The initramfs for this kernel, cached next to it."""
    path = kroot / "box-vm-initramfs.cpio"
    busybox = BUSYBOX.read_bytes()
    signature = (INIT + str(len(busybox))).encode()
    stamp = kroot / "box-vm-initramfs.stamp"
    if path.exists() and stamp.exists() and stamp.read_bytes() == signature:
        return path
    _, moddir = _kernel_paths(kroot)
    modules = _module_order(moddir, MODULES)
    entries = []
    for d in ("bin", "dev", "proc", "sys", "lib", "lib/modules"):
        entries.append((d, 0o040755, b"", (0, 0)))
    entries.append(("dev/console", 0o020600, b"", (5, 1)))
    entries.append(("dev/null", 0o020666, b"", (1, 3)))
    entries.append(("bin/busybox", 0o100755, busybox, (0, 0)))
    entries.append(("bin/sh", 0o120777, b"busybox", (0, 0)))
    entries.append(("init", 0o100755, INIT.encode(), (0, 0)))
    for m in modules:
        entries.append((f"lib/modules/{m.name}", 0o100644, m.read_bytes(), (0, 0)))
    entries.append(("modules", 0o100644, "".join(m.name + "\n" for m in modules).encode(),
                    (0, 0)))
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(_cpio_newc(entries))
    tmp.rename(path)
    stamp.write_bytes(signature)
    return path


class GuestResult:
    def __init__(self, status, console, seconds):
        self.status = status  # the script's exit status, None when the guest never reported it
        self.console = console
        self.seconds = seconds
        m = re.search(r"box-vm: booted in ([0-9.]+)s", console)
        self.boot_seconds = float(m.group(1)) if m else None


def expose_script(paths):
    """Shell lines for run.sh that make the host's `paths` visible again where the guest's own
    tmpfs on /tmp and /run hides them (a checkout under /tmp, say): each is bound from the
    host's read-only root, which the init keeps on /run/box-vm-host."""
    hidden = sorted({os.path.realpath(p) for p in paths
                     if os.path.realpath(p).startswith(("/tmp/", "/run/"))})
    if not hidden:
        return ""
    lines = []  # the init bound the host's root (read-only) on /run/box-vm-host
    for path in hidden:
        q = shlex.quote(path)
        lines.append(f"mkdir -p {q} && mount --bind /run/box-vm-host{q} {q}")
    return "\n".join(lines) + "\n"


def run_guest(script, out_dir, timeout, memory_mb=1536, cpus=2, echo=False):
    """Boots the guest, runs `script` (shell text) as /out/run.sh in it, and returns a
    GuestResult. qemu is killed after `timeout` seconds (status None then)."""
    kroot = fetch_kernel()
    vmlinuz, _ = _kernel_paths(kroot)
    initramfs = build_initramfs(kroot)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "run.sh").write_text(script)
    cmd = [
        QEMU, *accel_args(), "-m", str(memory_mb), "-smp", str(cpus),
        "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
        "-serial", "stdio",
        "-kernel", str(vmlinuz), "-initrd", str(initramfs),
        "-append", "console=ttyS0 panic=-1 quiet loglevel=3 no_timer_check rdinit=/init",
        "-fsdev", "local,id=host,path=/,security_model=passthrough,readonly=on,multidevs=remap",
        "-device", "virtio-9p-pci,fsdev=host,mount_tag=host",
        "-fsdev", f"local,id=out,path={out_dir},security_model=passthrough",
        "-device", "virtio-9p-pci,fsdev=out,mount_tag=out",
        "-device", "virtio-rng-pci",
    ]
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    chunks = []
    try:
        if echo:
            os.set_blocking(proc.stdout.fileno(), True)
            deadline = started + timeout
            import selectors
            sel = selectors.DefaultSelector()
            sel.register(proc.stdout, selectors.EVENT_READ)
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise subprocess.TimeoutExpired(cmd, timeout)
                if not sel.select(left):
                    continue
                data = os.read(proc.stdout.fileno(), 65536)
                if not data:
                    break
                chunks.append(data)
                sys.stdout.buffer.write(data)
                sys.stdout.flush()
            proc.wait(timeout=10)
        else:
            data, _ = proc.communicate(timeout=timeout)
            chunks.append(data)
    except subprocess.TimeoutExpired:
        proc.kill()
        rest, _ = proc.communicate(timeout=10)
        chunks.append(rest or b"")
    finally:
        # whatever interrupted the wait (a test timeout's signal too), the guest goes with it
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    console = b"".join(chunks).decode(errors="replace").replace("\r\n", "\n")
    seconds = time.monotonic() - started
    m = re.findall(rf"^{EXIT_MARK} (\d+)$", console, re.M)
    return GuestResult(int(m[-1]) if m else None, console, seconds)


def main():
    args = sys.argv[1:]
    if args[:1] == ["--"]:
        args = args[1:]
    if not args:
        args = ["sh", "-c", "cat /proc/mounts; cat /sys/fs/cgroup/cgroup.subtree_control"]
    out_dir = Path(os.environ.get("BOX_VM_OUT", "/tmp/box-vm-out"))
    script = (expose_script([os.getcwd()])
              + f"cd {shlex.quote(os.getcwd())}\nexec {shlex.join(args)}\n")
    result = run_guest(script, out_dir, timeout=int(os.environ.get("BOX_VM_TIMEOUT", "600")),
                       echo=True)
    print(f"\nbox-vm: status {result.status}, boot {result.boot_seconds}s, "
          f"total {result.seconds:.2f}s", file=sys.stderr)
    sys.exit(255 if result.status is None else result.status)


if __name__ == "__main__":
    main()
