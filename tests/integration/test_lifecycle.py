"""The box lifecycle through the real binary: run/create/start/stop/kill/wait/rm, the
monitor, logs, events, reconcile after kill -9, and the isolation a box gets. Every test
runs under each backend (native, and runc through the oci backend)."""
import fcntl
import json
import os
import random
import queue
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import BOX_BIN

RUNTIMES = ["native", "runc"]


@pytest.fixture(params=RUNTIMES)
def runtime(request):
    return request.param


@pytest.fixture
def img(busybox_image):
    return busybox_image


def run(box, runtime, *args, **kw):
    return box.run("run", "--runtime", runtime, *args, **kw)


def leaks(box, box_id):
    """What a removed box could have left behind: mounts, directories, intents, cgroups (all
    gone when the removing command returns), and its directory in the trash, which the
    remover deletes right after (it must be empty within seconds)."""
    found = []
    with open("/proc/self/mountinfo") as f:
        found += [l for l in f if str(box.root) in l]
    for sub in ("boxes", "intents"):
        d = box.root / sub
        if d.exists():
            found += [str(p) for p in d.iterdir()]
    # the runtime's state: native's <id>.json, an OCI runtime's <id>/ and pid files
    runtime_dir = box.root / "runtime"
    if runtime_dir.exists():
        found += [str(p) for p in runtime_dir.iterdir() if box_id[:12] in p.name]
    assert len(box_id) >= 12
    cgroups = subprocess.run(["find", "/sys/fs/cgroup", "-maxdepth", "5", "-name", f"*{box_id[:12]}*"],
                             capture_output=True, text=True).stdout.split()
    trash = box.root / "trash"
    wait_for(lambda: not trash.exists() or not any(trash.iterdir()))
    if trash.exists():
        found += [str(p) for p in trash.iterdir()]
    return found + cgroups


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


# ---- exit codes and stdio ------------------------------------------------------------------

def test_exit_codes_like_docker(box, runtime, img):
    assert run(box, runtime, "--rm", img, "true").returncode == 0
    assert run(box, runtime, "--rm", img, "sh", "-c", "exit 3", check=False).returncode == 3
    proc = run(box, runtime, "--rm", img, "no-such-command", check=False)
    assert proc.returncode == 127, proc.stderr
    # a file that exists but is not executable
    proc = run(box, runtime, "--rm", img, "/etc/hostname", check=False)
    assert proc.returncode == 126, proc.stderr
    proc = run(box, runtime, "--rm", "no-such-image", "true", check=False)
    assert proc.returncode == 125
    # a box killed by a signal: 128 + signal
    box_id = run(box, runtime, "-d", img, "sleep", "60").stdout.strip()
    box.run("kill", box_id)
    assert box.run("wait", box_id).stdout == "137\n"
    box.run("rm", box_id)


def test_stdout_and_stderr_stay_separate(box, runtime, img):
    for rm in (["--rm"], []):  # --rm: straight to us; else: through the monitor and the log
        proc = run(box, runtime, *rm, img, "sh", "-c", "echo out; echo err >&2; echo out2")
        assert proc.stdout == "out\nout2\n"
        assert proc.stderr == "err\n"


def test_stdin_with_interactive(box, runtime, img):
    proc = run(box, runtime, "--rm", "-i", img, "sh", "-c", "read line; echo got $line",
               input="hello\n")
    assert proc.stdout == "got hello\n"


# ---- what the box sees ---------------------------------------------------------------------

def test_env_user_workdir_hostname(box, runtime, img, tmp_path):
    env_file = tmp_path / "env"
    env_file.write_text("# comment\nFROM_FILE=yes\n\nB=from-file\n")
    proc = run(box, runtime, "--rm", "-e", "A=1", "-e", "B=from-flag", "--env-file", str(env_file),
               "-w", "/work/dir", "-u", "65534:65534", "-h", "myhost", img,
               "sh", "-c", "echo $A $B $FROM_FILE; pwd; id -u; id -g; hostname; cat /etc/hostname")
    assert proc.stdout.split("\n")[:6] == ["1 from-file yes", "/work/dir", "65534", "65534",
                                           "myhost", "myhost"]


def test_default_hostname_is_short_id_and_hosts_file(box, runtime, img):
    box_id = run(box, runtime, "-d", img, "sleep", "30").stdout.strip()
    try:
        out = box.run("logs", box_id).stdout
        proc = box.run("inspect", box_id)
        assert json.loads(proc.stdout)[0]["Config"]["Hostname"] == box_id[:12]
    finally:
        box.run("rm", "-f", box_id)
    proc = run(box, runtime, "--rm", img, "sh", "-c", "hostname; cat /etc/hosts")
    assert "localhost" in proc.stdout


def test_run_rm_reports_a_failed_start_once(box, runtime, img):
    """A command that cannot run: 127 like docker, and its error said once (under runc too,
    whose own stderr the box would otherwise share)."""
    proc = run(box, runtime, "--rm", img, "/nonexistent-command", check=False)
    assert proc.returncode == 127, proc.stderr
    assert "/nonexistent-command" in proc.stderr
    assert proc.stderr.lower().count("no such file or directory") == 1, proc.stderr
    assert box.run("ps", "-aq").stdout == ""


def test_monitor_is_detached_from_its_caller(box, img):
    """A monitor outlives the program that started it: it is nobody's child (reparented), in a
    session of its own, and none of the caller's ignored signals stick to it. Both ways a
    monitor starts: handed a box as the spare of `run`, and spawned by `start`."""
    def ignore_signals():
        os.setpgid(0, 0)  # not a session leader, so a missing setsid would show
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1):
            signal.signal(sig, signal.SIG_IGN)

    cli = [BOX_BIN, "--root", str(box.root)]
    started = subprocess.run([*cli, "run", "-d", img, "sleep", "60"], capture_output=True, text=True,
                             preexec_fn=ignore_signals, timeout=60, check=True).stdout.strip()
    created = box.run("create", img, "sleep", "60").stdout.strip()
    subprocess.run([*cli, "start", created], capture_output=True, preexec_fn=ignore_signals,
                   timeout=60, check=True)
    for box_id in (started, created):
        pid = monitor_pid(box, box_id)
        assert pid, box_id
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        assert int(stat[1]) == 1  # parent: init
        assert int(stat[3]) == pid  # session id: its own
        ignored = int(next(l for l in Path(f"/proc/{pid}/status").read_text().splitlines()
                           if l.startswith("SigIgn:")).split()[1], 16)
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1):
            assert not ignored & (1 << (sig - 1)), (box_id, sig)
        box.run("rm", "-f", box_id)


def test_the_callers_open_fds_reach_neither_the_box_nor_its_monitor(box, runtime, img, tmp_path):
    """An fd the caller left open without close-on-exec (a shell's `exec 200<file`) stays the
    caller's: neither the box's process nor its monitor gets it (docker passes none either),
    attached or detached."""
    host_file = tmp_path / "host-file"
    host_file.write_text("the host's\n")
    fd = os.open(host_file, os.O_RDWR)
    try:
        cli = [BOX_BIN, "--root", str(box.root), "run", "--runtime", runtime]
        attached = subprocess.run([*cli, "--rm", img, "sh", "-c", f"cat /proc/self/fd/{fd}"],
                                  capture_output=True, text=True, pass_fds=(fd,), timeout=60)
        assert attached.returncode == 1, attached
        assert "the host's" not in attached.stdout
        box_id = subprocess.run([*cli, "-d", img, "sleep", "60"], capture_output=True, text=True,
                                pass_fds=(fd,), timeout=60, check=True).stdout.strip()
        holders = []
        for pid in os.listdir("/proc"):
            if pid.isdigit() and int(pid) != os.getpid():
                try:
                    links = [os.readlink(f"/proc/{pid}/fd/{n}") for n in os.listdir(f"/proc/{pid}/fd")]
                except OSError:
                    continue
                if str(host_file) in links:
                    holders.append(Path(f"/proc/{pid}/comm").read_text().strip())
        assert holders == [], holders
        box.run("rm", "-f", box_id)
    finally:
        os.close(fd)


def cpus_allowed(pid="self"):
    status = Path(f"/proc/{pid}/status").read_text()
    return next(l.split(":", 1)[1].strip() for l in status.splitlines()
                if l.startswith("Cpus_allowed_list:"))


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="one CPU: nothing is moved")
def test_a_box_and_its_monitor_keep_every_cpu(box, img):
    """The spare monitor and a box's init are set up off their starter's CPU, and given back
    every CPU of their starter before they exec: neither the box's command nor its monitor
    stays held to a part of the machine. Both ways: `run --rm` (the spare) and `run -d`."""
    host = cpus_allowed()
    ran = box.run("run", "--rm", img, "sh", "-c", "grep Cpus_allowed_list /proc/self/status")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.split(":", 1)[1].strip() == host
    box_id = box.run("run", "-d", img, "sleep", "60").stdout.strip()
    try:
        pid = json.loads(box.run("inspect", box_id).stdout)[0]["State"]["Pid"]
        assert cpus_allowed(pid) == host
        assert cpus_allowed(monitor_pid(box, box_id)) == host
    finally:
        box.run("rm", "-f", box_id)


def test_a_box_root_mode_does_not_depend_on_the_callers_umask(box, img):
    """The box's / is its upper dir: made 0755 whatever the umask of the program that made it
    (the CLI for a new directory, a monitor for a spare one); its /etc files 0644 likewise."""
    def strict_umask():
        os.umask(0o077)

    cli = [BOX_BIN, "--root", str(box.root)]
    for _ in range(3):  # a new directory, then spares made by monitors started under it
        out = subprocess.run([*cli, "run", "--rm", img, "stat", "-c", "%a", "/", "/etc/hosts",
                              "/etc/hostname", "/etc/resolv.conf"], text=True,
                             capture_output=True, preexec_fn=strict_umask, timeout=60, check=True)
        assert out.stdout.split() == ["755", "644", "644", "644"], out
        wait_for(lambda: (box.root / "spare").exists() and any((box.root / "spare").iterdir()))


def test_box_directories_are_spread_over_the_disk(box, img):
    """The state directory and boxes/ carry ext4's top-directory flag (its allocator then
    spreads their subdirectories over the disk's groups, instead of crowding one with the
    inodes of boxes just removed, or of other programs' files); on filesystems without such
    flags nothing is asked."""
    box_id = box.run("create", img, "true").stdout.strip()
    box.run("rm", box_id)
    fs_type = subprocess.run(["stat", "-f", "-c", "%T", str(box.root)], capture_output=True,
                             text=True).stdout.strip()
    if fs_type != "ext2/ext3":
        pytest.skip(f"the state directory is on {fs_type}")
    for d in (box.root, box.root / "boxes"):
        flags = subprocess.run(["lsattr", "-d", str(d)], capture_output=True, text=True,
                               check=True).stdout.split()[0]
        assert "T" in flags, (d, flags)


def test_a_removed_box_leaves_its_directory_emptied_for_the_next(box, img):
    """The monitor of a removed --rm box keeps its directory as a spare (at most 4), emptied
    and made again, and the next box takes it over: nothing of the first box reaches the
    next, neither its files, nor what it did to its root's or its /etc/hosts' attributes."""
    spare = box.root / "spare"
    first = box.run("run", "-d", "--rm", img, "sh", "-c",
                    "echo secret > /marker; chmod 700 /; echo evil >> /etc/hosts;"
                    " chmod 600 /etc/hosts; touch /ready; sleep 60").stdout.strip()
    wait_for(lambda: (box.root / "boxes" / first / "upper" / "ready").exists())
    inode = (box.root / "boxes" / first).stat().st_ino
    box.run("stop", "-t", "1", first)
    wait_for(lambda: spare.exists() and any(spare.iterdir()))
    assert [p.stat().st_ino for p in spare.iterdir()] == [inode]
    assert sorted(p.name for p in next(spare.iterdir()).iterdir()) == ["rootfs", "upper", "work"]

    second = box.run("create", img, "sh", "-c",
                     "test -e /marker && echo marker || echo none; stat -c %a /;"
                     " stat -c %a /etc/hosts; cat /etc/hosts").stdout.strip()
    assert (box.root / "boxes" / second).stat().st_ino == inode
    assert not any(spare.iterdir())
    out = box.run("start", "-a", second, check=False).stdout.splitlines()
    assert out[:3] == ["none", "755", "644"], out
    assert "evil" not in "\n".join(out) and "localhost" in "\n".join(out), out
    box.run("rm", second)

    # a spare of another layout (another version of box) is not taken, and goes
    foreign = spare / "0-foreign"
    (foreign / "upper").mkdir(parents=True)
    (foreign / "upper" / "file").write_text("old")
    for _ in range(6):
        box.run("run", "--rm", img, "true")
    wait_for(lambda: not (box.root / "trash").exists() or not any((box.root / "trash").iterdir()))
    assert not foreign.exists()
    assert 1 <= len(list(spare.iterdir())) <= 4


def test_own_network_namespace_with_loopback_up(box, runtime, img):
    """Every box gets a network namespace of its own with lo up, whether `run` hands it to a
    monitor spawned ahead (which made the namespace early) or `start` spawns its monitor."""
    host_ns = os.readlink("/proc/self/ns/net")
    script = "readlink /proc/self/ns/net; ip -o link show lo; ping -c 1 -W 2 127.0.0.1 >/dev/null && echo ping-ok"
    ran = box.run("run", "--rm", "--runtime", runtime, img, "sh", "-c", script)
    assert ran.returncode == 0, ran.stderr
    box.run("create", "--name", "netns", "--runtime", runtime, img, "sh", "-c", script)
    started = box.run("start", "-a", "netns")
    assert started.returncode == 0, started.stderr
    for out in (ran.stdout, started.stdout):
        ns, link, ping = out.splitlines()
        assert ns.startswith("net:[") and ns != host_ns
        assert "<LOOPBACK,UP" in link
        assert ping == "ping-ok"
    assert ran.stdout.splitlines()[0] != started.stdout.splitlines()[0]


def test_read_only_root(box, runtime, img):
    proc = run(box, runtime, "--rm", "--read-only", img, "sh", "-c", "touch /x", check=False)
    assert proc.returncode != 0
    assert "Read-only file system" in proc.stderr
    assert run(box, runtime, "--rm", img, "sh", "-c", "touch /x").returncode == 0


def cap_eff(box, runtime, img, *flags):
    out = run(box, runtime, "--rm", *flags, img, "cat", "/proc/self/status").stdout
    line = next(l for l in out.splitlines() if l.startswith("CapEff:"))
    return int(line.split()[1], 16)


def test_capabilities_really_dropped(box, runtime, img):
    default = cap_eff(box, runtime, img)
    assert default == 0xa80425fb  # docker's default set
    assert cap_eff(box, runtime, img, "--cap-drop", "ALL") == 0
    assert cap_eff(box, runtime, img, "--cap-drop", "ALL", "--cap-add", "NET_ADMIN") == 1 << 12
    assert cap_eff(box, runtime, img, "--cap-drop", "CHOWN") == default & ~1
    assert cap_eff(box, runtime, img, "--privileged") > default


def test_seccomp_blocks_what_dockers_profile_blocks(box, runtime, img):
    status = run(box, runtime, "--rm", img, "cat", "/proc/self/status").stdout
    assert "Seccomp:\t2" in status
    # unshare(CLONE_NEWUSER) needs no capability: only the filter stops it
    proc = run(box, runtime, "--rm", img, "unshare", "-U", "true", check=False)
    assert proc.returncode != 0
    assert "Operation not permitted" in proc.stderr
    proc = run(box, runtime, "--rm", "--security-opt", "seccomp=unconfined", img,
               "cat", "/proc/self/status")
    assert "Seccomp:\t0" in proc.stdout


def test_seccomp_profile_that_cannot_be_compiled_fails_the_start_cleanly(box, img, tmp_path):
    # native: the monitor reads the program while the box's init sets up, so the failure comes
    # after the init exists; it must go with its cgroups and the rootfs mount
    profile = tmp_path / "profile.json"
    profile.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW",
                                   "architectures": ["SCMP_ARCH_NOPE"],
                                   "syscalls": [{"names": ["keyctl"], "action": "SCMP_ACT_ERRNO"}]}))
    box_id = box.run("create", "--runtime", "native", "--security-opt", f"seccomp={profile}",
                     img, "true").stdout.strip()
    proc = box.run("start", box_id, check=False)
    assert proc.returncode == 125, proc.stderr
    assert "seccomp" in proc.stderr and "SCMP_ARCH_NOPE" in proc.stderr, proc.stderr
    assert box.json("inspect", box_id)[0]["State"]["Running"] is False
    # nothing of the start is left before the box is removed: no init, cgroup or mount
    cgroups = subprocess.run(["find", "/sys/fs/cgroup", "-maxdepth", "5", "-name", f"*{box_id[:12]}*"],
                             capture_output=True, text=True).stdout.split()
    assert cgroups == []
    with open("/proc/self/mountinfo") as f:
        assert [l for l in f if box_id in l] == []
    assert not (box.root / "runtime" / f"{box_id}.json").exists()
    box.run("rm", box_id)
    assert leaks(box, box_id) == []


def test_no_new_privileges(box, runtime, img):
    out = run(box, runtime, "--rm", "--security-opt", "no-new-privileges", img,
              "cat", "/proc/self/status").stdout
    assert "NoNewPrivs:\t1" in out


def test_ulimit(box, runtime, img):
    out = run(box, runtime, "--rm", "--ulimit", "nofile=100:200", img,
              "sh", "-c", "ulimit -n; ulimit -Hn").stdout
    assert out == "100\n200\n"


def test_memory_limit_oom_is_reported(box, runtime, img):
    # tail keeps the whole (newline-free) input in memory
    proc = run(box, runtime, "--name", "hog", "--memory", "16m", img, "tail", "/dev/zero",
               check=False, timeout=60)
    assert proc.returncode == 137
    doc = box.json("inspect", "hog")[0]
    assert doc["State"]["OOMKilled"] is True
    assert doc["State"]["ExitCode"] == 137
    assert doc["HostConfig"]["Memory"] == 16 * 1024 * 1024
    actions = [json.loads(l)["Action"] for l in
               box.run("events", "--since", "5m", "--until", "0s", "--format", "json").stdout.splitlines()]
    assert "oom" in actions


def test_pids_limit(box, runtime, img):
    proc = run(box, runtime, "--rm", "--pids-limit", "8", img, "sh", "-c",
               "for i in $(seq 20); do sleep 2 & done 2>&1; wait", check=False, timeout=60)
    assert "can't fork" in proc.stdout + proc.stderr


def test_init_is_pid_one_and_reaps(box, runtime, img):
    out = run(box, runtime, "--rm", "--init", img, "sh", "-c",
              "tr '\\0' ' ' < /proc/1/cmdline; echo; echo $$").stdout.splitlines()
    assert out[0].startswith("/sbin/box-init")
    assert out[1] != "1"
    assert run(box, runtime, "--rm", "--init", img, "sh", "-c", "exit 4",
               check=False).returncode == 4


# ---- stop, kill, wait ----------------------------------------------------------------------

def test_stop_honours_the_stop_signal(box, runtime, img):
    box_id = run(box, runtime, "-d", "--stop-signal", "USR1", img, "sh", "-c",
                 "trap 'echo got usr1; exit 9' USR1; echo ready; while :; do sleep 0.1; done").stdout.strip()
    assert wait_for(lambda: "ready" in box.run("logs", box_id).stdout)
    box.run("stop", box_id)
    doc = box.json("inspect", box_id)[0]
    assert doc["State"]["Status"] == "exited"
    assert doc["State"]["ExitCode"] == 9
    assert "got usr1" in box.run("logs", box_id).stdout
    box.run("rm", box_id)


def test_stop_kills_after_the_timeout(box, runtime, img):
    box_id = run(box, runtime, "-d", img, "sh", "-c",
                 "trap '' TERM; echo ready; while :; do sleep 0.1; done").stdout.strip()
    assert wait_for(lambda: "ready" in box.run("logs", box_id).stdout)
    started = time.monotonic()
    box.run("stop", "-t", "1", box_id)
    elapsed = time.monotonic() - started
    assert elapsed >= 0.9  # it waited for the grace period
    assert box.json("inspect", box_id)[0]["State"]["ExitCode"] == 137
    events = [json.loads(l) for l in
              box.run("events", "--since", "5m", "--until", "0s", "--format", "json",
                      "--filter", f"box={box_id}").stdout.splitlines()]
    actions = [e["Action"] for e in events]
    assert actions[-3:] == ["kill", "die", "stop"], actions
    kills = [e["Actor"]["Attributes"]["signal"] for e in events if e["Action"] == "kill"]
    assert kills == ["15", "9"]
    box.run("rm", box_id)


def test_kill_with_signal_and_wait(box, runtime, img):
    box_id = run(box, runtime, "-d", img, "sh", "-c",
                 "trap 'exit 42' HUP; echo ready; while :; do sleep 0.1; done").stdout.strip()
    assert wait_for(lambda: "ready" in box.run("logs", box_id).stdout)
    waiter = box.popen("wait", box_id)
    box.run("kill", "-s", "HUP", box_id)
    out, _ = waiter.communicate(timeout=30)
    assert out == "42\n"
    proc = box.run("kill", box_id, check=False)
    assert proc.returncode == 125 and "not running" in proc.stderr
    box.run("rm", box_id)


def test_rm_refuses_running_box_unless_forced(box, runtime, img):
    box_id = run(box, runtime, "-d", img, "sleep", "60").stdout.strip()
    proc = box.run("rm", box_id, check=False)
    assert proc.returncode == 125 and "stop it before removing it" in proc.stderr
    box.run("rm", "-f", box_id)
    assert box.run("ps", "-aq").stdout == ""
    assert leaks(box, box_id) == []


def test_create_then_start_attached_and_restart(box, runtime, img):
    box_id = box.run("create", "--runtime", runtime, "--name", "later", img,
                     "sh", "-c", "echo run; exit 2").stdout.strip()
    assert box.json("inspect", "later")[0]["State"]["Status"] == "created"
    proc = box.run("start", "-a", "later", check=False)
    assert proc.returncode == 2 and proc.stdout == "run\n"
    proc = box.run("start", "-a", "later", check=False)  # an exited box starts again
    assert proc.returncode == 2
    assert box.run("logs", "later").stdout == "run\nrun\n"
    box.run("rm", box_id)


# ---- --rm leaves nothing -------------------------------------------------------------------

def test_rm_flag_leaves_nothing(box, runtime, img):
    proc = run(box, runtime, "--rm", "--name", "gone", img, "sh", "-c", "echo $HOSTNAME")
    box_id_prefix = proc.stdout.strip()  # the default hostname: the short id
    assert len(box_id_prefix) == 12
    assert box.run("ps", "-aq").stdout == ""
    assert leaks(box, box_id_prefix) == []
    db_rows = box.run("ps", "-a", "--format", "json").stdout
    assert db_rows == ""


def test_detached_rm_box_removes_itself(box, runtime, img):
    box_id = run(box, runtime, "-d", "--rm", img, "sh", "-c", "sleep 0.3").stdout.strip()
    assert wait_for(lambda: box.run("ps", "-aq").stdout == "")
    # the row goes first; the monitor then removes the directory under the box's intent
    assert wait_for(lambda: leaks(box, box_id) == [])


def test_box_that_writes_nothing_leaves_its_upper_layer_empty(box, runtime, img):
    """The runtime's mount points (/proc, /dev, /sys, /etc/hosts...) come from the shared
    skeleton layer, never from copies in the box's own upper layer."""
    proc = run(box, runtime, "--name", "still", img, "sh", "-c",
               "cat /etc/hostname; test -d /proc/self && test -c /dev/null && ls /sys/fs")
    box_id = box.json("inspect", "still")[0]["Id"]
    assert proc.stdout.startswith(box_id[:12] + "\n")
    assert list((box.root / "boxes" / box_id / "upper").iterdir()) == []
    box.run("rm", "still")


def test_reconcile_deletes_trash_nobody_deletes(box, img):
    """A remover that died while deleting a box's directory from the trash (the monitor of an
    --rm box deletes it after reporting the exit): the next open deletes it, but never an
    entry whose remover still holds its lock."""
    trash = box.root / "trash"
    abandoned, busy = trash / ("a" * 64), trash / ("b" * 64)
    for d in (abandoned, busy):
        (d / "upper" / "etc").mkdir(parents=True)
        (d / "config.json").write_text("{}")
    fd = os.open(busy, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        box.run("ps", "-a")
        assert not abandoned.exists()
        assert busy.exists()
    finally:
        os.close(fd)
    box.run("ps", "-a")
    assert list(trash.iterdir()) == []


# ---- crashes: kill -9 of the CLI and of the monitor ------------------------------------------

def monitor_pids(box, box_id=""):
    """Monitors are reparented to pid 1; their forked children (a box's init before its
    exec) carry the same command line but not that parent."""
    return [int(p) for p in subprocess.run(["pgrep", "-P", "1", "-f", f"^box-monitor {box.root} {box_id}"],
                                           capture_output=True, text=True).stdout.split()]


def monitor_pid(box, box_id):
    out = subprocess.run(["pgrep", "-P", "1", "-f", f"^box-monitor {box.root} {box_id}"],
                         capture_output=True, text=True).stdout.split()
    return int(out[0]) if out else None


def test_monitor_killed_after_an_rm_box_row_went_leaves_nothing(box, img, tmp_path):
    """A monitor ending an --rm box deletes the box's row while the runtime releases the box,
    in parallel. Killed in between, it left an OCI runtime's state and cgroups that nothing
    released: the next open found no row to say which runtime. Here runc's delete is slowed
    down (a wrapper sleeps first, once a marker exists) to hold the monitor in that window."""
    marker = tmp_path / "slow"
    wrapper = tmp_path / "slow-delete-runc"
    wrapper.write_text("#!/bin/sh\n"
                       f'if [ -e {marker} ]; then for a in "$@"; do\n'
                       '  [ "$a" = delete ] && sleep 5 && break\n'
                       "done; fi\n"
                       f'exec {shutil.which("runc")} "$@"\n')
    wrapper.chmod(0o755)
    cli = box.popen("run", "--runtime", f"oci:{wrapper}", "--rm", img, "sleep", "1")
    assert wait_for(lambda: box.run("ps", "-q").stdout != "")
    box_id = box.run("ps", "-q", "--no-trunc").stdout.strip()
    marker.touch()
    # the box ended and its row went; its monitor still waits for the runtime's delete
    assert wait_for(lambda: box.run("ps", "-aq").stdout == "")
    pids = monitor_pids(box, box_id)
    assert pids, "the monitor ended before the runtime released the box"
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    cli.wait(timeout=60)
    marker.unlink()
    box.run("ps", "-a")  # the next open finishes what the monitor left
    assert leaks(box, box_id) == []


def test_rm_removes_the_pid_files_a_killed_oci_create_left(box, img):
    """runc tells a created box's pid through a pid file, written as .<id>.pid and renamed;
    a create killed half-way leaves either, which the box's removal deletes with the rest."""
    box_id = box.run("create", "--runtime", "runc", img, "true").stdout.strip()
    for name in (f"{box_id}.pid", f".{box_id}.pid"):
        (box.root / "runtime" / name).write_text("1")
    box.run("rm", box_id)
    assert leaks(box, box_id) == []


def test_kill_9_of_the_cli_leaves_the_box_running(box, runtime, img):
    cli = box.popen("run", "--runtime", runtime, "--name", "orphan", img, "sleep", "30")
    assert wait_for(lambda: box.run("ps", "-q", "--filter", "name=orphan").stdout != "")
    cli.kill()
    cli.wait(timeout=60)
    doc = box.json("inspect", "orphan")[0]
    assert doc["State"]["Running"] is True
    box.run("stop", "-t", "0", "orphan")
    assert box.json("inspect", "orphan")[0]["State"]["Status"] == "exited"
    box_id = doc["Id"]
    box.run("rm", "orphan")
    assert leaks(box, box_id) == []


def test_kill_9_of_the_monitor_is_repaired_on_next_open(box, runtime, img):
    box_id = run(box, runtime, "-d", img, "sleep", "60").stdout.strip()
    box_pid = box.json("inspect", box_id)[0]["State"]["Pid"]
    mon = monitor_pid(box, box_id)
    assert mon
    os.kill(mon, signal.SIGKILL)
    assert wait_for(lambda: not Path(f"/proc/{mon}").exists() or
                    Path(f"/proc/{mon}/stat").read_text().split(")")[1].split()[0] == "Z")
    doc = box.json("inspect", box_id)[0]  # this open reconciles
    assert doc["State"]["Status"] == "exited"
    assert doc["State"]["ExitCode"] == 255
    assert "monitor" in doc["State"]["Error"]
    # the box's processes went with their cgroup
    assert wait_for(lambda: not Path(f"/proc/{box_pid}").exists())
    box.run("rm", box_id)
    assert leaks(box, box_id) == []


def test_random_kill_9_during_run_rm_leaves_nothing(box, runtime, img):
    """Kill the CLI, or the monitor, at random points of `run --rm`; afterwards a fresh
    `box ps` is consistent and, once everything settled, nothing is left."""
    rng = random.Random(int(os.environ.get("BOX_TEST_SEED", "4")))
    for i in range(12):
        cli = box.popen("run", "--runtime", runtime, "--rm", img, "sh", "-c", "sleep 0.2")
        time.sleep(rng.uniform(0, 0.15))
        if i % 2 == 0:
            cli.kill()
        else:
            for pid in monitor_pids(box):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass  # it finished meanwhile
        cli.wait(timeout=60)
    assert wait_for(lambda: subprocess.run(["pgrep", "-f", f"^box-monitor {box.root}"],
                                           capture_output=True).returncode != 0, timeout=30)
    listed = box.json_lines("ps", "-a", "--format", "json")
    for b in listed:
        # a CLI killed between create and start leaves a created box (as docker's does);
        # a box whose monitor died is recorded as exited
        assert b["State"] in ("created", "exited"), b
        box.run("rm", b["ID"])
    assert box.run("ps", "-aq").stdout == ""
    ids = {e["id"] for e in box.json_lines("events", "--since", "1h", "--until", "0s",
                                             "--format", "json", "--filter", "type=container")}
    assert 1 <= len(ids) <= 12  # a CLI killed at once may not have created its box
    for box_id in ids:
        assert leaks(box, box_id) == []


# ---- logs and events ------------------------------------------------------------------------

def test_logs_follow_tail_and_timestamps(box, runtime, img):
    box_id = run(box, runtime, "-d", img, "sh", "-c",
                 "for i in 1 2 3 4 5; do echo line$i; sleep 0.1; done; echo bad >&2").stdout.strip()
    follow = box.popen("logs", "-f", box_id)
    out, err = follow.communicate(timeout=30)
    assert out == "".join(f"line{i}\n" for i in range(1, 6))
    assert err == "bad\n"
    assert box.run("logs", "--tail", "2", box_id).stdout == "line5\n"
    stamped = box.run("logs", "-t", box_id).stdout.splitlines()
    assert stamped[0].endswith("Z line1") and stamped[0][:4].isdigit()
    assert box.run("logs", "--until", "2000-01-01", box_id).stdout == ""
    with open(box.root / "boxes" / box_id / "json.log") as f:
        first = json.loads(f.readline())
    assert first["log"] == "line1\n" and first["stream"] == "stdout" and first["time"].endswith("Z")


def test_log_rotation_caps_the_size(box, runtime, img):
    box_id = run(box, runtime, "-d", "--log-opt", "max-size=10k", "--log-opt", "max-file=2", img,
                 "sh", "-c", "i=0; while [ $i -lt 2000 ]; do echo line$i; i=$((i+1)); done").stdout.strip()
    box.run("wait", box_id)
    d = box.root / "boxes" / box_id
    assert (d / "json.log.1").exists()
    assert not (d / "json.log.2").exists()
    assert (d / "json.log").stat().st_size <= 10 * 1024
    lines = box.run("logs", box_id).stdout.splitlines()
    assert lines[-1] == "line1999"
    assert len(lines) < 2000  # the oldest were rotated away
    # docker's types: the options are strings
    log_config = box.json("inspect", box_id)[0]["HostConfig"]["LogConfig"]
    assert log_config == {"Type": "json-file", "Config": {"max-size": "10240", "max-file": "2"}}


def test_events_stream(box, runtime, img):
    box.run("info")
    # --since: what happens before the follower is set up comes from its backlog (a bare
    # follow starts at the newest event when it starts, which may be after the run below)
    stream = box.popen("events", "--format", "json", "--filter", "type=container",
                       "--since", f"{time.time() - 1:.3f}")
    box_id = run(box, runtime, "--name", "ev", img, "sh", "-c", "exit 6", check=False)
    box.run("rename", "ev", "ev2")
    box.run("rm", "ev2")
    seen = []
    lines = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(l) for l in stream.stdout], daemon=True)
    reader.start()
    deadline = time.monotonic() + 20
    try:
        while time.monotonic() < deadline:
            try:
                e = json.loads(lines.get(timeout=1.0))
            except queue.Empty:
                continue
            seen.append(e)
            if e["Action"] == "destroy":
                break
    finally:
        stream.kill()
        stream.wait(timeout=60)
    actions = [e["Action"] for e in seen]
    assert actions == ["create", "start", "die", "rename", "destroy"], actions
    die = seen[2]
    assert die["Actor"]["Attributes"]["exitCode"] == "6"
    assert die["Actor"]["Attributes"]["name"] == "ev"
    assert all(e["timeNano"] >= seen[0]["timeNano"] for e in seen)
    assert seen[3]["Actor"]["Attributes"]["oldName"] == "ev"


# ---- ps, inspect, top -------------------------------------------------------------------------

def test_ps_filters_and_formats(box, runtime, img):
    a = run(box, runtime, "-d", "--name", "alpha", "-l", "tier=web", img, "sleep", "60").stdout.strip()
    b = box.run("create", "--runtime", runtime, "--name", "beta", img, "true").stdout.strip()
    c = run(box, runtime, "--name", "gamma", img, "sh", "-c", "exit 3", check=False)
    try:
        assert box.run("ps", "-q").stdout.split() == [a[:12]]
        assert set(box.run("ps", "-aq").stdout.split()) == {a[:12], b[:12],
                                                            box.json("inspect", "gamma")[0]["Id"][:12]}
        assert box.run("ps", "-aq", "--filter", "status=created").stdout.split() == [b[:12]]
        assert box.run("ps", "-aq", "--filter", "exited=3", "--no-trunc").stdout.split() == \
            [box.json("inspect", "gamma")[0]["Id"]]
        assert box.run("ps", "-aq", "--filter", "label=tier=web").stdout.split() == [a[:12]]
        assert box.run("ps", "-aq", "--filter", "name=bet").stdout.split() == [b[:12]]
        assert box.run("ps", "-aq", "--filter", f"id={a[:5]}").stdout.split() == [a[:12]]
        assert len(box.run("ps", "-aq", "--filter", f"ancestor={img}").stdout.split()) == 3
        rows = box.json_lines("ps", "--format", "json")
        assert [r["Names"] for r in rows] == ["alpha"]
        assert rows[0]["State"] == "running" and rows[0]["Status"].startswith("Up")
        top = box.run("top", "alpha").stdout
        assert "sleep 60" in top
    finally:
        box.run("rm", "-f", "alpha", "beta", "gamma")


def test_inspect_is_close_to_docker(box, runtime, img):
    box_id = run(box, runtime, "-d", "--name", "insp", "-e", "K=V", "--memory", "64m",
                 "--pids-limit", "50", "--cap-add", "NET_ADMIN", img, "sleep", "60").stdout.strip()
    try:
        d = box.json("inspect", "insp")[0]
        assert d["Id"] == box_id and d["Name"] == "/insp"
        assert d["Path"] == "sleep" and d["Args"] == ["60"]
        s = d["State"]
        assert s["Status"] == "running" and s["Running"] is True and s["Pid"] > 0
        assert s["StartedAt"] > d["Created"] and s["FinishedAt"].startswith("0001-")
        assert "K=V" in d["Config"]["Env"] and d["Config"]["Image"] == img
        assert d["HostConfig"]["Memory"] == 64 * 1024 * 1024
        assert d["HostConfig"]["PidsLimit"] == 50
        assert d["HostConfig"]["CapAdd"] == ["NET_ADMIN"]
        assert d["HostConfig"]["Runtime"] == runtime
        assert d["Image"].startswith("sha256:")
        assert Path(d["LogPath"]).exists()
    finally:
        box.run("rm", "-f", box_id)
