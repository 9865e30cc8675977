"""Integration harness: drives the real `box` binary built by scripts/test.

BOX_BIN names the binary (scripts/test sets it to the sanitizer build). Every test gets its own
state directory, so tests never see each other's boxes.
"""
import json
import os
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BOX_BIN = os.environ.get("BOX_BIN", str(REPO / "build" / "src" / "box" / "box"))


class Box:
    """Runs `box --root <state dir> ...` and returns CompletedProcess (text mode)."""

    def __init__(self, root: Path):
        self.root = root

    def run(self, *args, check=True, input=None, timeout=120, env=None, input_bytes=None):
        """input: text for stdin; input_bytes: binary stdin (output is still decoded)."""
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        if input_bytes is not None:
            proc = subprocess.run(
                [BOX_BIN, "--root", str(self.root), *args],
                input=input_bytes, capture_output=True, timeout=timeout, env=full_env)
            proc.stdout = proc.stdout.decode(errors="replace")
            proc.stderr = proc.stderr.decode(errors="replace")
        else:
            proc = subprocess.run(
                [BOX_BIN, "--root", str(self.root), *args],
                input=input, capture_output=True, text=True, timeout=timeout, env=full_env)
        if check and proc.returncode != 0:
            raise AssertionError(
                f"box {' '.join(args)} exited {proc.returncode}\n"
                f"stdout: {proc.stdout}\nstderr: {proc.stderr}")
        return proc

    def popen(self, *args, **kwargs):
        return subprocess.Popen([BOX_BIN, "--root", str(self.root), *args],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                **kwargs)

    def json(self, *args):
        return json.loads(self.run(*args).stdout)

    def json_lines(self, *args):
        return [json.loads(line) for line in self.run(*args).stdout.splitlines() if line]


def box_monitors(root):
    """(pid, box id) of every box-monitor process serving the state directory root."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if len(argv) > 2 and argv[0].endswith(b"box-monitor") and argv[1] == str(root).encode():
            found.append((int(pid), argv[2].decode()))
    return found


def exiting_monitors(root):
    """pids of the monitors of root on their way out: a monitor unlinks its socket
    (boxes/<id>/monitor.sock) once its box has exited."""
    return [pid for pid, box_id in box_monitors(root)
            if not (root / "boxes" / box_id / "monitor.sock").exists()]


def check_monitor_reports(root, wait=10.0):
    """A sanitizer build's monitors write their reports (leaks at exit included) to
    <root>/monitor-sanitizer.<pid>: any such file fails the test. Monitors still exiting are
    waited for (a while); those of boxes the test left running are not."""
    deadline = time.monotonic() + wait
    while exiting_monitors(root) and time.monotonic() < deadline:
        time.sleep(0.05)
    reports = sorted(root.glob("monitor-sanitizer.*")) if root.exists() else []
    if reports:
        text = "\n".join(f"{p.name}:\n{p.read_text(errors='replace')}" for p in reports)
        pytest.fail(f"a box monitor's sanitizer report:\n{text}", pytrace=False)


@pytest.fixture
def box(tmp_path):
    b = Box(tmp_path / "state")
    yield b
    check_monitor_reports(b.root)


@pytest.fixture
def box_bin():
    return BOX_BIN


@pytest.fixture(scope="session")
def busybox_tarball(tmp_path_factory):
    """A gzip-compressed busybox root filesystem tarball (bin/busybox, a symlink per applet,
    etc/passwd, etc/group), built once per session from Debian's busybox-static."""
    import gzip
    from rootfs import busybox_rootfs_tar
    path = tmp_path_factory.mktemp("busybox") / "busybox-rootfs.tar.gz"
    path.write_bytes(gzip.compress(busybox_rootfs_tar(), compresslevel=1, mtime=0))
    return path


@pytest.fixture
def busybox_image(box, busybox_tarball):
    """Imports busybox_tarball into the test's state directory as busybox:latest (with
    CMD ["sh"] and PATH set, like the real image); returns the image id."""
    out = box.run("image", "import", "-q", "--change", 'CMD ["sh"]',
                  "--change", "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                  str(busybox_tarball), "busybox:latest")
    return out.stdout.strip()


# Real registries (docker-registry: open, htpasswd, token), test images and DOCKER_CONFIG
# isolation, for the pull/push/login tests.
from registry import (busybox_layout, docker_config, registry, registry_basic,  # noqa: E402,F401
                      registry_token)
