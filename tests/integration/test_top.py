"""box top: the processes of a running box in ps's columns, checked against the host's own ps
(procps) for the same pids, under both backends."""
import os
import subprocess
import time

import pytest

RUNTIMES = ["native", "runc"]


@pytest.fixture(params=RUNTIMES)
def runtime(request):
    return request.param


def table(text):
    """Rows of a top table as lists of cells; the last column (a command) may hold spaces."""
    lines = text.splitlines()
    n = len(lines[0].split())
    return lines[0].split(), [line.split(None, n - 1) for line in lines[1:]]


def host_ps(fields, pids):
    out = subprocess.run(["ps", "-o", fields, "-p", ",".join(pids)], capture_output=True,
                         text=True, check=True, timeout=30).stdout
    return {row[0]: row for row in table(out)[1]}


def start_box(box, runtime, img, *extra):
    box_id = box.run("run", "-d", "--runtime", runtime, *extra, img, "sh", "-c",
                     "sleep 300 & sleep 301 & wait").stdout.strip()
    # ready once both sleeps have executed (a child between fork and exec shows the shell's
    # command line, and for an instant no memory)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        rows = table(box.run("top", box_id, "-o", "rss,args").stdout)[1]
        if sorted(r[1] for r in rows if int(r[0]) > 0)[1:] == ["sleep 300", "sleep 301"]:
            return box_id
        time.sleep(0.05)
    raise AssertionError(f"the box's processes did not appear: {rows}")


def test_top_default_is_ps_ef(box, runtime, busybox_image):
    box_id = start_box(box, runtime, busybox_image)
    try:
        titles, rows = table(box.run("top", box_id).stdout)
        assert titles == ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
        cmds = sorted(r[7] for r in rows)
        assert cmds == ["sh -c sleep 300 & sleep 301 & wait", "sleep 300", "sleep 301"]
        pids = [r[1] for r in rows]
        init_pid = str(box.json("inspect", box_id)[0]["State"]["Pid"])
        assert init_pid in pids
        # what the host's ps -ef prints for the same processes (C, the CPU share over the
        # process's life, moves with time: only its range is checked)
        host = host_ps("pid,user,ppid,stime,tty,time,args", pids)
        for r in rows:
            h = host[r[1]]
            assert r[0] == h[1] == "root"
            assert [r[2], r[4], r[5], r[6], r[7]] == h[2:], (r, h)
            assert 0 <= int(r[3]) <= 99
        # the sleeps are children of the box's shell
        assert sorted(r[2] for r in rows if r[7].startswith("sleep")) == [init_pid, init_pid]
    finally:
        box.run("rm", "-f", box_id)


def test_top_ps_options(box, runtime, busybox_image):
    box_id = start_box(box, runtime, busybox_image)
    try:
        titles, rows = table(box.run("top", box_id, "aux").stdout)
        assert titles == ["USER", "PID", "%CPU", "%MEM", "VSZ", "RSS", "TTY", "STAT", "START",
                          "TIME", "COMMAND"]
        host = host_ps("pid,user,vsz,tty,stat,start_time,bsdtime,args", [r[1] for r in rows])
        for r in rows:
            h = host[r[1]]
            assert [r[0], r[4], r[6], r[7], r[8], r[9], r[10]] == h[1:], (r, h)
            assert int(r[5]) > 0

        titles, rows = table(box.run("top", box_id, "-o", "pid,comm,args=WHAT,etime").stdout)
        assert titles == ["PID", "COMMAND", "WHAT", "ELAPSED"]
        assert sorted(r[1] for r in rows) == ["sh", "sleep", "sleep"]
        titles, rows = table(box.run("top", box_id, "-eo", "user,ppid,stat").stdout)
        assert titles == ["USER", "PPID", "STAT"] and len(rows) == 3

        bad = box.run("top", box_id, "-o", "pid,nosuchcolumn", check=False)
        assert bad.returncode != 0 and "nosuchcolumn" in bad.stderr
        bad = box.run("top", box_id, "-o", ",", check=False)  # found by fuzz-ps-args
        assert bad.returncode != 0 and "empty ps format list" in bad.stderr
        bad = box.run("top", box_id, "-Z", check=False)
        assert bad.returncode != 0 and "-Z" in bad.stderr
    finally:
        box.run("rm", "-f", box_id)


def test_top_shows_the_box_terminal(box, runtime, busybox_image):
    box_id = start_box(box, runtime, busybox_image, "-t")
    try:
        titles, rows = table(box.run("top", box_id).stdout)
        assert all(r[5].startswith("pts/") for r in rows), rows
        _, stats = table(box.run("top", box_id, "-o", "pid,stat").stdout)
        host = host_ps("pid,stat", [r[0] for r in stats])
        assert {r[0]: r[1] for r in stats} == {p: h[1] for p, h in host.items()}
    finally:
        box.run("rm", "-f", box_id)


def test_top_of_a_box_that_does_not_run(box, busybox_image):
    box.run("create", "--name", "idle", busybox_image, "true")
    proc = box.run("top", "idle", check=False)
    assert proc.returncode != 0 and "not running" in proc.stderr


def test_top_lists_the_box_cgroup_not_its_pid_namespace(box, runtime, busybox_image):
    # no `box exec` yet: a process in a nested pid namespace stands for one that joined the
    # box another way. docker lists the processes of the box's cgroup: the nested one is
    # listed, while one that only entered the box's pid namespace from outside is not.
    box_id = box.run("run", "-d", "--runtime", runtime, "--privileged", busybox_image, "sh",
                     "-c", "unshare -p -f sleep 302 & sleep 300 & wait").stdout.strip()
    intruder = None
    try:
        init_pid = str(box.json("inspect", box_id)[0]["State"]["Pid"])
        intruder = subprocess.Popen(["nsenter", "-t", init_pid, "-p", "--", "sleep", "303"])
        expected = ["sh -c unshare -p -f sleep 302 & sleep 300 & wait", "sleep 300",
                    "sleep 302", "unshare -p -f sleep 302"]
        deadline = time.monotonic() + 10
        while True:
            _, rows = table(box.run("top", box_id, "-o", "pid,args").stdout)
            cmds = sorted(r[1] for r in rows)
            children = [p for p in os.listdir("/proc") if p.isdigit()
                        and read_ppid(p) == intruder.pid]
            if cmds == expected and children or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert cmds == expected, rows
        assert children, "nsenter's child never appeared"
        intruder_child = children[0]
        assert os.readlink(f"/proc/{intruder_child}/ns/pid") == \
            os.readlink(f"/proc/{init_pid}/ns/pid")
        assert intruder_child not in [r[0] for r in rows]
        # the sleep of the nested namespace is in another pid namespace than the box's init
        nested = [r[0] for r in rows if r[1] == "sleep 302"][0]
        assert os.readlink(f"/proc/{nested}/ns/pid") != os.readlink(f"/proc/{init_pid}/ns/pid")
    finally:
        if intruder:
            intruder.kill()
            intruder.wait(timeout=30)
        box.run("rm", "-f", box_id)


def read_ppid(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None
