"""Test root filesystems built locally from Debian's busybox-static (no network image source
exists here): a tarball with /bin/busybox, a symlink per applet, /etc/passwd and /etc/group,
and the usual empty directories."""
import io
import subprocess
import tarfile
from pathlib import Path

BUSYBOX = Path("/bin/busybox")


def busybox_applets():
    out = subprocess.run([str(BUSYBOX), "--list"], capture_output=True, text=True, check=True)
    return sorted(a for a in out.stdout.split() if a and a != "busybox")


def _add(tar, name, kind, data=None, mode=0o755, target=None):
    info = tarfile.TarInfo(name)
    info.mode = mode
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    info.mtime = 1700000000
    if kind == "dir":
        info.type = tarfile.DIRTYPE
        tar.addfile(info)
    elif kind == "symlink":
        info.type = tarfile.SYMTYPE
        info.linkname = target
        tar.addfile(info)
    else:
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))


def busybox_rootfs_tar() -> bytes:
    """An uncompressed tar of a minimal busybox root filesystem."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for d, mode in (("bin", 0o755), ("dev", 0o755), ("etc", 0o755), ("proc", 0o555),
                        ("root", 0o700), ("sys", 0o555), ("tmp", 0o1777), ("usr", 0o755),
                        ("usr/bin", 0o755), ("var", 0o755)):
            _add(tar, d, "dir", mode=mode)
        _add(tar, "bin/busybox", "file", BUSYBOX.read_bytes(), 0o755)
        for applet in busybox_applets():
            _add(tar, f"bin/{applet}", "symlink", mode=0o777, target="busybox")
        _add(tar, "etc/passwd", "file",
             b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n", 0o644)
        _add(tar, "etc/group", "file", b"root:x:0:\nnogroup:x:65534:\n", 0o644)
    return buf.getvalue()
