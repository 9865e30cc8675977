"""The runtime backends on their own (no engine): the same OCI bundle, written by the spec
builder, run by the native runtime and by runc through box-rt (tests/runtime/box-rt.c), a small
monitor-like driver: create, start, wait, stats, delete.

The rootfs is Debian's busybox-static with its applet links, plus a static syscall probe."""
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BOX_BIN = Path(os.environ.get("BOX_BIN", str(REPO / "build" / "src" / "box" / "box")))
BOX_RT = BOX_BIN.parents[2] / "tests" / "runtime" / "box-rt"
RUNTIMES = ["native", "runc"]
DOCKER_DEFAULT_CAPS = "00000000a80425fb"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the runtime needs root")


@pytest.fixture(scope="module")
def rootfs(tmp_path_factory):
    root = tmp_path_factory.mktemp("rootfs") / "rootfs"
    (root / "bin").mkdir(parents=True)
    (root / "etc").mkdir()
    (root / "tmp").mkdir(mode=0o1777)
    for d in ("proc", "dev", "sys"):  # as every image has them
        (root / d).mkdir()
    shutil.copy("/bin/busybox", root / "bin" / "busybox")
    applets = subprocess.run(["/bin/busybox", "--list"], capture_output=True, text=True,
                             check=True).stdout.split()
    for applet in applets:
        if applet != "busybox":
            (root / "bin" / applet).symlink_to("busybox")
    (root / "etc" / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
    (root / "etc" / "group").write_text("root:x:0:\nnogroup:x:65534:\n")
    subprocess.run(["gcc", "-static", "-O2", "-o", str(root / "bin" / "probe"),
                    str(REPO / "tests" / "runtime" / "syscall-probe.c")], check=True)
    (root / "bin" / "not-executable").write_text("#!/bin/sh\n")
    return root


class Runtime:
    def __init__(self, name, tmp_path, rootfs):
        self.name = name
        self.state = tmp_path / f"state-{name}"
        self.bundle = tmp_path / "bundle"
        self.bundle.mkdir(exist_ok=True)
        self.rootfs = rootfs
        self.counter = 0

    def spec(self, *args, cmd, box_id=None):
        cgroup = ["--cgroup", f"/box/{box_id}"] if box_id else []
        subprocess.run([str(BOX_RT), "spec", str(self.bundle), "--rootfs", str(self.rootfs),
                        *cgroup, *args, "--", *cmd], check=True)

    def run(self, *args, cmd, extra=(), timeout=60):
        """Writes the bundle, runs it; returns (CompletedProcess, stats dict or None)."""
        self.counter += 1
        box_id = f"t{os.getpid()}-{self.name}-{self.counter}"
        self.spec(*args, cmd=cmd, box_id=box_id)
        stats = self.bundle / "stats.json"
        if stats.exists():
            stats.unlink()
        proc = subprocess.run([str(BOX_RT), "run", self.name, str(self.state), box_id,
                               str(self.bundle), "--stats-out", str(stats), *extra],
                              capture_output=True, text=True, timeout=timeout)
        self.last_id = box_id
        return proc, (json.loads(stats.read_text()) if stats.exists() else None)


@pytest.fixture(params=RUNTIMES)
def rt(request, tmp_path, rootfs):
    return Runtime(request.param, tmp_path, rootfs)


@pytest.fixture
def native(tmp_path, rootfs):
    return Runtime("native", tmp_path, rootfs)


def test_exit_code_and_stdio_separation(rt):
    proc, _ = rt.run(cmd=["sh", "-c", "echo out; echo err >&2; exit 7"])
    assert proc.returncode == 7
    assert proc.stdout == "out\n"
    assert proc.stderr == "err\n"


def test_env_user_workdir_hostname(rt):
    proc, _ = rt.run("--env", "FOO=bar baz", "--user", "65534:65534", "--cwd", "/work/deep",
                     "--hostname", "boxy",
                     cmd=["sh", "-c", 'echo "$FOO"; id -u; id -g; pwd; hostname; echo $PATH'])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "bar baz", "65534", "65534", "/work/deep", "boxy",
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]


def test_read_only_root(rt):
    proc, _ = rt.run("--read-only", cmd=["sh", "-c", "touch /x && echo wrote; touch /dev/shm/y && echo shm"])
    assert "wrote" not in proc.stdout
    assert "Read-only file system" in proc.stderr
    assert "shm" in proc.stdout


def caps(stdout):
    return {line.split(":")[0]: line.split()[1] for line in stdout.splitlines()
            if line.startswith("Cap")}


def test_default_capabilities_are_dockers(rt):
    proc, _ = rt.run(cmd=["grep", "^Cap", "/proc/self/status"])
    c = caps(proc.stdout)
    assert c["CapEff"] == DOCKER_DEFAULT_CAPS
    assert c["CapBnd"] == DOCKER_DEFAULT_CAPS
    assert c["CapInh"] == "0000000000000000"
    assert c["CapAmb"] == "0000000000000000"


def test_capabilities_dropped(rt):
    proc, _ = rt.run("--cap-drop", "ALL", cmd=["grep", "^Cap", "/proc/self/status"])
    c = caps(proc.stdout)
    assert c["CapEff"] == c["CapPrm"] == c["CapBnd"] == "0000000000000000"
    # chown needs CAP_CHOWN, gone now
    proc, _ = rt.run("--cap-drop", "CHOWN", cmd=["sh", "-c", "touch /tmp/f; chown 1 /tmp/f"])
    assert proc.returncode != 0
    assert "Operation not permitted" in proc.stderr


def test_non_root_user_has_no_effective_capabilities(rt):
    proc, _ = rt.run("--user", "1000:1000", cmd=["grep", "^Cap", "/proc/self/status"])
    c = caps(proc.stdout)
    assert c["CapEff"] == c["CapPrm"] == "0000000000000000"
    assert c["CapBnd"] == DOCKER_DEFAULT_CAPS


def test_cap_add(rt):
    proc, _ = rt.run("--cap-add", "SYS_ADMIN", cmd=["grep", "^CapEff", "/proc/self/status"])
    assert int(caps(proc.stdout)["CapEff"], 16) & (1 << 21)


def probe(rt, *args, names):
    proc, _ = rt.run(*args, cmd=["/bin/probe", *names])
    assert proc.returncode == 0, proc.stderr
    return dict(line.split() for line in proc.stdout.splitlines())


def test_default_seccomp_blocks_what_docker_blocks(rt):
    result = probe(rt, names=["keyctl", "add_key", "unshare", "mount", "clone3", "vsock", "getpid"])
    assert result["keyctl"] == "EPERM"
    assert result["add_key"] == "EPERM"
    assert result["unshare"] == "EPERM"
    assert result["mount"] == "EPERM"
    assert result["vsock"] == "EPERM"
    assert result["clone3"] == "ENOSYS"  # so that libc falls back to clone, whose flags are checked
    assert result["getpid"] == "ok"
    proc, _ = rt.run(cmd=["unshare", "-n", "true"])
    assert proc.returncode != 0
    assert "Operation not permitted" in proc.stderr


def test_seccomp_unconfined(rt):
    result = probe(rt, "--seccomp", "unconfined", names=["keyctl", "clone3"])
    assert result["keyctl"] != "EPERM"
    assert result["clone3"] == "EINVAL"  # the kernel's answer to a NULL argument


def test_seccomp_profile_file(rt, tmp_path):
    profile = tmp_path / "profile.json"
    profile.write_text(json.dumps({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}],
    }))
    proc, _ = rt.run("--seccomp", str(profile), cmd=["sh", "-c", "mkdir /tmp/d || echo refused"])
    assert "refused" in proc.stdout
    assert "Permission denied" in proc.stderr
    result = probe(rt, "--seccomp", str(profile), names=["keyctl"])
    assert result["keyctl"] != "EPERM"


def test_memory_limit_oom_kill_detected(rt):
    proc, stats = rt.run("--memory", str(32 << 20),
                         cmd=["sh", "-c", "x=$(head -c 200000000 /dev/zero | tr '\\0' x); echo survived"])
    assert proc.returncode == 137, (proc.returncode, proc.stderr)
    assert "survived" not in proc.stdout
    assert stats is not None and stats["memory_limit"] == 32 << 20
    assert stats["oom_killed"] is True
    assert stats["oom_killed_alone"] is True  # the scope a box's end reads


def test_no_oom_without_pressure(native):
    proc, stats = native.run("--memory", str(64 << 20), cmd=["true"])
    assert proc.returncode == 0
    assert stats["oom_killed"] is False
    assert stats["oom_killed_alone"] is False


def test_pids_limit(rt):
    proc, _ = rt.run("--pids", "8", cmd=["sh", "-c", "for i in $(seq 20); do sleep 2 & done; wait"])
    assert "can't fork" in proc.stderr or "Resource temporarily unavailable" in proc.stderr


def test_ulimit_within_hard_limit(rt):
    proc, _ = rt.run("--ulimit", "nofile=100:200", cmd=["sh", "-c", "ulimit -n; ulimit -Hn"])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["100", "200"]


def has_cap_sys_resource():
    with open("/proc/self/status") as f:
        cap_eff = int(next(l for l in f if l.startswith("CapEff:")).split()[1], 16)
    return bool(cap_eff & (1 << 24))


def test_ulimit_above_hard_limit_is_a_clear_error(rt):
    hard = int(subprocess.run(["sh", "-c", "ulimit -Hn"], capture_output=True, text=True).stdout)
    proc, _ = rt.run("--ulimit", f"nofile={hard * 10}:{hard * 10}", cmd=["sh", "-c", "ulimit -Hn"])
    if has_cap_sys_resource():  # root in the cgroup v2 guest: the raise is allowed
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == str(hard * 10)
        return
    assert proc.returncode != 0
    if rt.name == "native":
        assert proc.returncode == 126  # a permission error
        assert "CAP_SYS_RESOURCE" in proc.stderr
        assert str(hard) in proc.stderr


def test_command_not_found_and_not_executable(rt):
    proc, _ = rt.run(cmd=["no-such-command"])
    assert proc.returncode == 127, proc.stderr
    assert "no-such-command" in proc.stderr
    proc, _ = rt.run(cmd=["/bin/not-executable"])
    assert proc.returncode == 126, proc.stderr


def test_masked_and_readonly_paths(rt):
    proc, _ = rt.run(cmd=["sh", "-c", "wc -c < /proc/kcore; echo 1 > /proc/sys/kernel/domainname && echo wrote; ls /sys/firmware | wc -l"])
    lines = proc.stdout.split()
    assert lines[0] == "0"
    assert "wrote" not in proc.stdout
    assert lines[-1] == "0"


def test_devices_and_mounts(rt):
    proc, _ = rt.run(cmd=["sh", "-c", "ls /dev; grep -E ' /dev/pts | /sys ' /proc/self/mountinfo; head -c 4 /dev/urandom | wc -c"])
    assert proc.returncode == 0, proc.stderr
    for dev in ["null", "zero", "full", "random", "urandom", "tty", "pts", "shm", "mqueue", "ptmx"]:
        assert dev in proc.stdout.split()
    assert "ptmxmode=666" in proc.stdout
    assert " ro," in proc.stdout or " ro " in proc.stdout  # /sys read-only
    assert proc.stdout.split()[-1] == "4"


def test_bind_mount(rt, tmp_path):
    src = tmp_path / "hosts"
    src.write_text("10.0.0.1 friend\n")
    proc, _ = rt.run("--bind", f"{src}:/etc/hosts:ro",
                     cmd=["sh", "-c", "cat /etc/hosts; echo x >> /etc/hosts || echo refused"])
    assert "10.0.0.1 friend" in proc.stdout
    assert "refused" in proc.stdout


def test_setup_failure_reports_the_inits_own_error(native, tmp_path, rootfs):
    """The init sets up its mounts while the runtime makes the box's cgroups: when a mount
    fails early, the error says what failed (not that the init vanished), every time, and
    the cgroups made meanwhile are gone."""
    bad = tmp_path / "bad-rootfs"
    shutil.copytree(rootfs, bad, symlinks=True)
    (bad / "proc").rmdir()
    (bad / "proc").write_text("not a directory\n")
    native.rootfs = bad
    for _ in range(20):
        proc, _ = native.run(cmd=["true"])
        assert proc.returncode != 0
        assert "mount proc (proc) on /proc: Not a directory" in proc.stderr, proc.stderr
        assert not any(Path("/sys/fs/cgroup").glob(f"*/box/{native.last_id}")), native.last_id


def test_namespaces_are_new(rt):
    proc, _ = rt.run(cmd=["sh", "-c", "echo $$; ls /sys/class/net; cat /proc/self/cgroup | grep -E '^0::|memory'"])
    lines = proc.stdout.split()
    if os.path.isdir("/sys/fs/cgroup/unified"):  # hybrid: the unified line is rooted too
        assert "0::/" in lines
        lines.remove("0::/")
    assert lines[0] == "1"
    assert lines[1:-1] == ["lo"]
    assert lines[-1].endswith(":/")  # the cgroup namespace hides the host's tree


def test_states_and_cleanup(rt):
    proc, _ = rt.run(cmd=["true"], extra=["--check-states"])
    assert proc.returncode == 0, proc.stderr
    box_id = rt.last_id
    assert not os.path.exists(f"/sys/fs/cgroup/memory/box/{box_id}")
    assert not os.path.exists(f"/sys/fs/cgroup/pids/box/{box_id}")
    assert not os.path.exists(f"/sys/fs/cgroup/unified/box/{box_id}")
    if rt.name == "native":
        assert not (rt.state / box_id).exists()


def test_exec_into_running_box(rt, tmp_path):
    process = tmp_path / "process.json"
    process.write_text(json.dumps({
        "args": ["sh", "-c", "echo pid=$$; hostname; grep CapEff /proc/self/status; /bin/probe keyctl; exit 5"],
        "env": ["PATH=/bin"], "cwd": "/tmp", "user": {"uid": 0, "gid": 0},
        "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"],
                         "permitted": ["CAP_KILL"]},
    }))
    proc, _ = rt.run("--hostname", "execbox", cmd=["sleep", "100"],
                     extra=["--exec-json", str(process), "--check-states"])
    assert proc.returncode == 5, proc.stderr
    out = proc.stdout.splitlines()
    assert out[0] != "pid=1"
    assert out[1] == "execbox"
    assert out[2].split()[1] == "0000000000000020"
    assert out[3] == "keyctl EPERM"  # the box's seccomp filter applies to exec'd processes


def test_terminal(rt):
    proc, _ = rt.run("--tty", cmd=["sh", "-c", "tty; test -t 0 && echo interactive"])
    assert proc.returncode == 0, proc.stderr
    assert "/dev/pts/0" in proc.stdout
    assert "interactive" in proc.stdout


def test_user_namespace(tmp_path, rootfs):
    # the namespace's root (host uid 100000) must be able to reach the rootfs and the bundle
    import tempfile
    base = Path(tempfile.mkdtemp(prefix="box-userns-"))
    try:
        base.chmod(0o755)
        shutil.copytree(rootfs, base / "rootfs", symlinks=True)
        # as with docker's userns-remap: the image's files belong to the namespace's root
        subprocess.run(["chown", "-R", "-h", "100000:100000", str(base / "rootfs")], check=True)
        native = Runtime("native", base, base / "rootfs")
        _user_namespace(native)
    finally:
        shutil.rmtree(base)


def _user_namespace(native):
    proc, _ = native.run("--userns", cmd=["sh", "-c", "cat /proc/self/uid_map; id -u; cat /dev/null && echo devnull"])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[:4] == ["0", "100000", "65536", "0"]
    assert "devnull" in proc.stdout


def test_same_bundle_under_both_runtimes(tmp_path, rootfs):
    native = Runtime("native", tmp_path, rootfs)
    runc = Runtime("runc", tmp_path, rootfs)
    cmd = ["sh", "-c", "hostname; id; grep CapEff /proc/self/status; ls /dev | wc -l; cat /proc/self/cgroup | wc -l"]
    native.spec("--hostname", "same", "--user", "65534:65534", cmd=cmd)
    config = (native.bundle / "config.json").read_text()
    outputs = []
    for i, r in enumerate([native, runc]):
        proc = subprocess.run([str(BOX_RT), "run", r.name, str(r.state), f"same{i}", str(r.bundle)],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        outputs.append(proc.stdout)
        assert (r.bundle / "config.json").read_text() == config  # untouched
    assert outputs[0] == outputs[1]


def test_device_cgroup_denies_host_disks(rt):
    # mknod is allowed (CAP_MKNOD, "b *:* m"), opening the node is not: docker's device rules
    proc, _ = rt.run(cmd=["sh", "-c", "mknod /tmp/disk$$ b 7 0 && echo made; head -c1 /tmp/disk$$; rm /tmp/disk$$"])
    assert "made" in proc.stdout
    assert "Operation not permitted" in proc.stderr


def test_lifecycle_state_machine(rt):
    rt.spec(cmd=["sh", "-c", "sleep 100 & sleep 100"], box_id="lifecycle")
    proc = subprocess.run([str(BOX_RT), "lifecycle", rt.name, str(rt.state), "lifecycle",
                           str(rt.bundle)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "deleted created box", "killed running box", "force-deleted running box"]
    assert not os.path.exists("/sys/fs/cgroup/memory/box/lifecycle")
    assert not os.path.exists("/sys/fs/cgroup/unified/box/lifecycle")


def test_exec_with_terminal(rt, tmp_path):
    process = tmp_path / "process.json"
    process.write_text(json.dumps({
        "terminal": True, "args": ["sh", "-c", "tty; test -t 1 && echo on-a-tty"],
        "env": ["PATH=/bin"], "cwd": "/", "user": {"uid": 0, "gid": 0},
    }))
    proc, _ = rt.run(cmd=["sleep", "100"], extra=["--exec-json", str(process)])
    assert proc.returncode == 0, proc.stderr
    assert "/dev/pts/" in proc.stdout
    assert "on-a-tty" in proc.stdout
