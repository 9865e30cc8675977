"""Box cgroups on whatever layout the host has: the limits land in the right files (v1
controllers or the unified tree), the kernel enforces them (OOM kill reported by inspect,
pids limit), device access is denied by default, and --rm leaves no cgroup behind.

Runs on the host (hybrid here) in the suite, and inside a pure cgroup v2 guest through
test_cgroup_v2.py, which boots one and runs this file there."""
import json
import os
import subprocess
import time
from pathlib import Path

import pytest

CGROUP = Path("/sys/fs/cgroup")

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="boxes need root")


def host_mode():
    fstype = subprocess.run(["stat", "-f", "-c", "%T", str(CGROUP)], capture_output=True,
                            text=True, check=True).stdout.strip()
    if fstype == "cgroup2fs":
        return "v2"
    unified = subprocess.run(["stat", "-f", "-c", "%T", str(CGROUP / "unified")],
                             capture_output=True, text=True).stdout.strip()
    return "hybrid" if unified == "cgroup2fs" else "v1"


def box_cgroup_dirs(box_id):
    """Every directory the box's cgroup may have (one per hierarchy)."""
    if host_mode() == "v2":
        return [CGROUP / "box" / box_id]
    dirs = [CGROUP / c / "box" / box_id for c in ("memory", "cpu", "cpuacct", "pids", "devices")]
    if host_mode() == "hybrid":
        dirs.append(CGROUP / "unified" / "box" / box_id)
    return dirs


def read(path):
    return Path(path).read_text().strip()


def test_info_reports_the_host_mode(box):
    info = json.loads(box.run("info").stdout)
    assert info["cgroup"]["mode"] == host_mode()


def test_limits_are_written(box, busybox_image):
    box_id = box.run("run", "-d", "--cpus", "0.5", "--cpu-shares", "512", "--pids-limit", "20",
                     "--memory", "64m", "busybox", "sleep", "60").stdout.strip()
    try:
        if host_mode() == "v2":
            d = CGROUP / "box" / box_id
            assert read(d / "cpu.max") == "50000 100000"
            # runc's conversion: 1 + (shares - 2) * 9999 / 262142
            assert read(d / "cpu.weight") == str(1 + (512 - 2) * 9999 // 262142)
            assert read(d / "pids.max") == "20"
            assert read(d / "memory.max") == str(64 << 20)
        else:
            assert read(CGROUP / "cpu/box" / box_id / "cpu.cfs_quota_us") == "50000"
            assert read(CGROUP / "cpu/box" / box_id / "cpu.cfs_period_us") == "100000"
            assert read(CGROUP / "cpu/box" / box_id / "cpu.shares") == "512"
            assert read(CGROUP / "pids/box" / box_id / "pids.max") == "20"
            assert read(CGROUP / "memory/box" / box_id / "memory.limit_in_bytes") == str(64 << 20)
    finally:
        box.run("rm", "-f", box_id)


def test_box_sees_its_own_cgroups_read_only(box, busybox_image):
    # /sys/fs/cgroup in the box: every hierarchy of the host, each rooted at the box's own
    # cgroup (its limit shows at the top), and none of it writable
    if host_mode() == "v2":
        limit_file, expected = "memory.max", str(64 << 20)
    else:
        limit_file, expected = "memory/memory.limit_in_bytes", str(64 << 20)
    script = ("ls /sys/fs/cgroup; echo limit $(cat /sys/fs/cgroup/%s); "
              "mkdir /sys/fs/cgroup/x 2>&1; grep ' /sys/fs/cgroup' /proc/mounts" % limit_file)
    proc = box.run("run", "--rm", "--memory", "64m", "busybox", "sh", "-c", script, check=False)
    out = proc.stdout
    assert f"limit {expected}" in out, out
    assert "Read-only file system" in out, out
    mounts = [line.split() for line in out.splitlines() if " /sys/fs/cgroup" in line]
    assert mounts and all(m[3].startswith("ro,") for m in mounts), mounts
    if host_mode() != "v2":
        listed = set(out.split())
        host = {c for c in ("cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio",
                            "pids") if (CGROUP / c).is_dir()}
        assert host <= listed, (host, out)
        assert {m[1].rsplit("/", 1)[1] for m in mounts if m[2] == "cgroup"} == host, mounts
        if host_mode() == "hybrid":
            assert "unified" in listed, out


def test_memory_limit_oom_kill_is_reported(box, busybox_image):
    # the shell's variable grows past the limit: the kernel's OOM killer ends it
    proc = box.run("run", "--name", "hog", "--memory", "32m", "busybox", "sh", "-c",
                   'x=$(head -c 100000000 /dev/zero | tr "\\0" a); echo ${#x}', check=False)
    assert proc.returncode == 137, proc.stderr
    state = box.json("inspect", "hog")[0]["State"]
    assert state["OOMKilled"] is True
    assert state["ExitCode"] == 137


def test_pids_limit_is_enforced(box, busybox_image):
    proc = box.run("run", "--rm", "--pids-limit", "5", "busybox", "sh", "-c",
                   "for i in 1 2 3 4 5 6 7 8; do sleep 10 & done; echo all-started", check=False)
    assert "can't fork" in proc.stderr
    assert "all-started" not in proc.stdout


def test_rm_leaves_no_cgroup(box, busybox_image):
    # the box must outlive the check that its cgroup exists: under the v2 guest's emulation
    # (TCG) on a busy machine, one second was sometimes over before `run -d` returned
    box_id = box.run("run", "-d", "--rm", "--memory", "64m", "--cpus", "1", "--pids-limit", "50",
                     "busybox", "sh", "-c", "sleep 5").stdout.strip()
    assert any(d.exists() for d in box_cgroup_dirs(box_id))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(d.exists() for d in box_cgroup_dirs(box_id)):
        time.sleep(0.1)
    assert [d for d in box_cgroup_dirs(box_id) if d.exists()] == []


def test_rm_of_a_running_box_leaves_no_cgroup(box, busybox_image):
    box_id = box.run("run", "-d", "--pids-limit", "50", "busybox", "sleep", "60").stdout.strip()
    box.run("rm", "-f", box_id)
    assert [d for d in box_cgroup_dirs(box_id) if d.exists()] == []


def test_rm_removes_cgroups_made_below_the_box(box, busybox_image):
    """A box (or its privileged processes) may make cgroups inside its own: rm takes them
    too, deepest first (a cgroup with children refuses rmdir)."""
    box_id = box.run("run", "-d", "--pids-limit", "50", "busybox", "sleep", "60").stdout.strip()
    made = []
    for d in box_cgroup_dirs(box_id):
        if d.exists():
            (d / "sub" / "deeper").mkdir(parents=True)
            made.append(d)
    assert made
    box.run("rm", "-f", box_id)
    assert [d for d in box_cgroup_dirs(box_id) if d.exists()] == []


def test_standard_devices_work(box, busybox_image):
    out = box.run("run", "--rm", "busybox", "sh", "-c",
                  "head -c 4 /dev/zero | wc -c; head -c 4 /dev/urandom | wc -c; "
                  "echo x > /dev/null && echo null-ok").stdout.split()
    assert out == ["4", "4", "null-ok"]


def test_other_devices_cannot_be_opened(box, busybox_image):
    # a block device (8:0, the first SCSI disk) and /dev/kmsg (1:11) made inside the box: docker
    # lets mknod through but the device rules refuse to open them
    proc = box.run("run", "--rm", "busybox", "sh", "-c",
                   "mknod /tmp/sda b 8 0 && echo made-sda; "
                   "head -c 1 /tmp/sda > /dev/null && echo opened-sda; "
                   "mknod /tmp/kmsg c 1 11 && echo made-kmsg; "
                   "echo box-test > /tmp/kmsg && echo opened-kmsg; "
                   "mknod /tmp/null c 1 3 && echo x > /tmp/null && echo opened-null; true",
                   check=False)
    assert proc.returncode == 0, proc.stderr
    assert "opened-sda" not in proc.stdout
    assert "opened-kmsg" not in proc.stdout
    assert "made-sda" in proc.stdout and "made-kmsg" in proc.stdout, proc.stderr
    assert "Operation not permitted" in proc.stderr
    # an allowed device made the same way opens
    assert "opened-null" in proc.stdout, proc.stderr


def test_privileged_devices_can_be_opened(box, busybox_image):
    proc = box.run("run", "--rm", "--privileged", "busybox", "sh", "-c",
                   "mknod /tmp/kmsg c 1 11 && echo box-test > /tmp/kmsg && echo opened-kmsg",
                   check=False)
    assert "opened-kmsg" in proc.stdout, proc.stderr


# --device under both backends: the node is made with the host node's numbers and mode, and
# the device rules (v1 devices.allow, or the v2 eBPF filter) let through what its permissions
# say and nothing more
DEVICE_RUNTIMES = ["native", "runc"]


@pytest.mark.parametrize("runtime", DEVICE_RUNTIMES)
def test_device_is_made_in_the_box_and_works(box, busybox_image, runtime):
    zero, null = os.stat("/dev/zero"), os.stat("/dev/null")
    proc = box.run("run", "--rm", "--runtime", runtime, "--device", "/dev/zero:/dev/mydev",
                   "--device", "/dev/null:/dev/sub/mynull:rw", "busybox", "sh", "-c",
                   "stat -c '%F %t %T %a %u %g' /dev/mydev /dev/sub/mynull; "
                   "head -c 5 /dev/mydev | wc -c; echo x > /dev/sub/mynull && echo write-ok",
                   check=False)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    for line, st in zip(lines[:2], (zero, null)):
        assert line == (f"character special file {os.major(st.st_rdev):x} "
                        f"{os.minor(st.st_rdev):x} {st.st_mode & 0o777:o} 0 0"), lines
    assert lines[2:] == ["5", "write-ok"]


@pytest.mark.parametrize("runtime", DEVICE_RUNTIMES)
def test_device_permissions_are_enforced(box, busybox_image, runtime):
    # /dev/kmsg (1:11) is outside docker's default rules: only the --device rule opens it.
    # Opening it for reading also needs CAP_SYSLOG when dmesg_restrict is set.
    script = ("true < /dev/mydev && echo read-ok; true > /dev/mydev && echo write-ok; "
              "mknod /tmp/again c 1 11 && echo mknod-ok; true")

    def run(spec):
        return box.run("run", "--rm", "--runtime", runtime, "--cap-add", "SYSLOG", "--device",
                       spec, "busybox", "sh", "-c", script, check=False)

    full = run("/dev/kmsg:/dev/mydev")
    assert full.stdout.split() == ["read-ok", "write-ok", "mknod-ok"], full.stderr
    read_only = run("/dev/kmsg:/dev/mydev:r")
    assert read_only.stdout.split() == ["read-ok", "mknod-ok"], read_only.stderr
    assert "Operation not permitted" in read_only.stderr
    write_only = run("/dev/kmsg:/dev/mydev:w")
    assert write_only.stdout.split() == ["write-ok", "mknod-ok"], write_only.stderr
    assert "Operation not permitted" in write_only.stderr


@pytest.mark.parametrize("runtime", DEVICE_RUNTIMES)
def test_devices_below_a_directory_are_made_and_enforced(box, busybox_image, tmp_path, runtime):
    # --device DIR: each node below it (1:3 and 1:5 at the top, /dev/kmsg's 1:11 in a nested
    # directory) is made at the same relative path with an allow rule carrying the given
    # permissions; the regular file next to them is not carried. 1:11 is outside docker's
    # default rules, so only the directory's rule opens it (reading also needs CAP_SYSLOG when
    # dmesg_restrict is set).
    top = tmp_path / "devs"
    (top / "nested").mkdir(parents=True)
    os.mknod(top / "null", 0o666 | 0o020000, os.makedev(1, 3))
    os.mknod(top / "zero", 0o666 | 0o020000, os.makedev(1, 5))
    os.mknod(top / "nested" / "kmsg", 0o600 | 0o020000, os.makedev(1, 11))
    (top / "regular").write_text("skipped\n")
    script = ("cd /dev/mine && find . | sort && stat -c '%n %F %t:%T' null zero nested/kmsg && "
              "head -c 3 zero | wc -c; true < nested/kmsg && echo read-ok; "
              "true > nested/kmsg && echo write-ok; true")

    def run(permissions):
        return box.run("run", "--rm", "--runtime", runtime, "--cap-add", "SYSLOG", "--device",
                       f"{top}:/dev/mine{permissions}", "busybox", "sh", "-c", script,
                       check=False)

    full = run("")
    assert full.returncode == 0, full.stderr
    assert full.stdout.splitlines() == [
        ".", "./nested", "./nested/kmsg", "./null", "./zero",
        "null character special file 1:3", "zero character special file 1:5",
        "nested/kmsg character special file 1:b", "3", "read-ok", "write-ok"], full.stderr
    read_only = run(":r")
    assert read_only.stdout.splitlines()[-2:] == ["3", "read-ok"], read_only.stderr
    assert "Operation not permitted" in read_only.stderr
    write_only = run(":w")
    assert write_only.stdout.splitlines()[-2:] == ["3", "write-ok"], write_only.stderr
    assert "Operation not permitted" in write_only.stderr


def test_top_lists_the_processes_of_the_box_cgroup(box, busybox_image):
    # top reads the box's cgroup (the unified tree on v2 and hybrid hosts, v1 memory else)
    # and the cgroups below it, as docker does: a process moved into a sub-cgroup stays listed
    box_id = box.run("run", "-d", "busybox", "sh", "-c",
                     "sleep 300 & sleep 301 & wait").stdout.strip()
    mode = host_mode()
    tracking = CGROUP / ("" if mode == "v2" else "unified" if mode == "hybrid"
                         else "memory") / "box" / box_id
    sub = tracking / "sub"

    def top_rows():
        lines = box.run("top", box_id, "-o", "pid,args").stdout.splitlines()[1:]
        return [line.split(None, 1) for line in lines]

    try:
        deadline = time.monotonic() + 10
        while True:
            rows = top_rows()
            if sorted(r[1] for r in rows)[1:] == ["sleep 300", "sleep 301"] \
                    or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert sorted(r[1] for r in rows)[1:] == ["sleep 300", "sleep 301"], rows
        procs = sorted(int(p) for p in read(tracking / "cgroup.procs").split())
        assert sorted(int(r[0]) for r in rows) == procs

        sub.mkdir()
        moved = [r[0] for r in rows if r[1] == "sleep 301"][0]
        (sub / "cgroup.procs").write_text(moved)
        assert moved not in read(tracking / "cgroup.procs").split()
        assert sorted(int(r[0]) for r in top_rows()) == procs
    finally:
        # give the process back: the box's cgroup is removed with rmdir, not recursively
        if sub.exists():
            for pid in read(sub / "cgroup.procs").split():
                (tracking / "cgroup.procs").write_text(pid)
            sub.rmdir()
        box.run("rm", "-f", box_id)
