"""Attaching to boxes through the monitor's socket: `run -it` and `attach` driven through a
real pseudo-terminal (output, input, exit code, terminal size and its changes, detach keys),
several clients at once, signal proxying, `start -a -i`, a client that stops reading and one
told it was dropped for lagging; docker's Attach*/StdinOnce fields, what the end of a client's
input does with and without StdinOnce, and docker's refusal of an input that is not a terminal
for a tty box."""
import fcntl
import os
import select
import signal
import struct
import subprocess
import termios
import time

import pytest

from conftest import BOX_BIN

RUNTIMES = ["native", "runc"]
CTRL_P, CTRL_Q = b"\x10", b"\x11"


@pytest.fixture(params=RUNTIMES)
def runtime(request):
    return request.param


def set_size(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


class Pty:
    """Runs `box ...` with a new pseudo-terminal as its controlling terminal and stdio."""

    def __init__(self, box, *args, rows=24, cols=80):
        self.master, slave = os.openpty()
        set_size(slave, rows, cols)

        def controlling_terminal():
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.proc = subprocess.Popen([BOX_BIN, "--root", str(box.root), *args], stdin=slave,
                                     stdout=slave, stderr=slave, preexec_fn=controlling_terminal,
                                     close_fds=True)
        os.close(slave)
        self.output = b""

    def _read(self, timeout):
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return False
        try:
            data = os.read(self.master, 65536)
        except OSError:  # EIO: every process holding the terminal is gone
            data = b""
        if not data:
            return None
        self.output += data
        return True

    def expect(self, needle: bytes, timeout=20.0):
        """Waits until needle appears in the output after what earlier expects consumed."""
        deadline = time.monotonic() + timeout
        while needle not in self.output:
            left = deadline - time.monotonic()
            if left <= 0 or self._read(left) is None:
                raise AssertionError(f"{needle!r} not seen; output: {self.output!r}")
        index = self.output.index(needle) + len(needle)
        seen, self.output = self.output[:index], self.output[index:]
        return seen

    def write(self, data: bytes):
        os.write(self.master, data)

    def resize(self, rows, cols):
        # the kernel sends SIGWINCH to the terminal's foreground group: the box CLI
        set_size(self.master, rows, cols)

    def wait(self, timeout=30.0):
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            self._read(0.05)
        code = self.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        # what it wrote last may still wait in the terminal: read until its end
        while self._read(0.5):
            pass
        return code

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        os.close(self.master)


@pytest.fixture(autouse=True)
def remove_boxes_after(box):
    """A failed test may leave boxes running: remove them (their mounts too)."""
    yield
    if (box.root / "box.db").exists():
        ids = box.run("ps", "-aq", "--no-trunc", check=False).stdout.split()
        if ids:
            box.run("rm", "-f", *ids, check=False)


@pytest.fixture
def ptys():
    opened = []

    def open_pty(box, *args, **kw):
        p = Pty(box, *args, **kw)
        opened.append(p)
        return p

    yield open_pty
    for p in opened:
        p.close()


def retry_until(t, command, needle, timeout=20.0):
    """Types command until its output shows needle (for changes that land asynchronously)."""
    deadline = time.monotonic() + timeout
    while True:
        t.write(command)
        try:
            return t.expect(needle, timeout=1.0)
        except AssertionError:
            if time.monotonic() > deadline:
                raise


def state(box, ref):
    return box.json("inspect", ref)[0]["State"]


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


# ---- run -it through a real terminal --------------------------------------------------------

def test_run_it_input_output_exit_code_and_size(box, runtime, busybox_image, ptys):
    t = ptys(box, "run", "-it", "--runtime", runtime, "--name", "shell", busybox_image, "sh",
             rows=30, cols=90)
    t.write(b"echo $((6 * 7))\n")
    t.expect(b"42")
    t.write(b"tty; stty size\n")
    t.expect(b"/dev/pts/0")
    t.expect(b"30 90")
    # our terminal is resized: the CLI gets SIGWINCH and resizes the box's terminal
    t.resize(41, 101)
    retry_until(t, b"stty size\n", b"41 101")
    t.write(b"exit 5\n")
    assert t.wait() == 5
    st = state(box, "shell")
    assert st["Status"] == "exited" and st["ExitCode"] == 5
    # the log of a tty box holds the terminal's output
    assert "42" in box.run("logs", "shell").stdout


def test_run_t_without_i_gets_a_terminal(box, runtime, busybox_image, ptys):
    t = ptys(box, "run", "-t", "--rm", "--runtime", runtime, busybox_image, "sh", "-c",
             "tty; stty size; exit 3", rows=33, cols=77)
    t.expect(b"/dev/pts/0")
    t.expect(b"33 77")
    assert t.wait() == 3


def test_detach_keys_leave_the_box_running_and_attach_comes_back(box, runtime, busybox_image,
                                                                   ptys):
    t = ptys(box, "run", "-it", "--runtime", runtime, "--name", "dt", busybox_image, "sh")
    t.write(b"echo first-$((1 + 1))\n")
    t.expect(b"first-2")
    t.write(CTRL_P + CTRL_Q)
    assert t.wait() == 0  # docker run: a detach is a success
    assert state(box, "dt")["Running"] is True

    a = ptys(box, "attach", "dt", rows=50, cols=120)
    # attach resizes the box's terminal to ours
    a.write(b"stty size\n")
    a.expect(b"50 120")
    a.write(b"echo again-$((2 + 1))\n")
    a.expect(b"again-3")
    # a second client with keys of its own
    b = ptys(box, "attach", "--detach-keys", "ctrl-a,x", "dt")
    b.write(b"echo third-$((3 + 1))\n")
    b.expect(b"third-4")
    b.write(b"\x01x")
    assert b.wait() == 1
    assert b"read escape sequence" in b.output
    assert state(box, "dt")["Running"] is True
    # the first attach saw the same output as the second
    a.expect(b"third-4")
    a.write(b"exit 6\n")
    assert a.wait() == 6
    assert state(box, "dt")["ExitCode"] == 6


def test_detach_keys_that_do_not_complete_reach_the_box(box, runtime, busybox_image, ptys):
    # the box's terminal is raw: it gets bytes exactly as the CLI passes them on
    t = ptys(box, "run", "-it", "--runtime", runtime, "--detach-keys", "ctrl-a,x",
             busybox_image, "sh", "-c",
             "stty raw -echo; echo ready; head -c 5 | od -An -tx1; exit 0")
    t.expect(b"ready")
    # ctrl-a then y: not the sequence, both go; a lone ctrl-p is no key of this run
    t.write(b"\x01y")
    t.write(b"z" + CTRL_P + b"\x01" + b"w")
    t.expect(b"01 79 7a 10 01")
    assert t.wait() == 0


def test_run_it_refuses_an_input_that_is_not_a_terminal(box, busybox_image):
    proc = box.run("run", "-it", "--name", "nt", busybox_image, "true", input="hi\n",
                   check=False)
    assert (proc.returncode, proc.stderr) == (1, "box: the input device is not a TTY\n")
    # refused before anything was created, as docker does
    assert box.run("ps", "-aq").stdout == ""
    # no stdin attached (-t alone, or detached): no terminal needed
    proc = box.run("run", "-t", "--rm", busybox_image, "sh", "-c", "tty", input="")
    assert proc.stdout.strip() == "/dev/pts/0"
    box_id = box.run("run", "-d", "-i", "-t", busybox_image, "sh", input="").stdout.strip()
    assert state(box, box_id)["Running"] is True


def test_attach_to_a_tty_box_refuses_an_input_that_is_not_a_terminal(box, busybox_image):
    # docker checks whatever the box's OpenStdin: a tty box without -i is refused too
    loop = "while true; do echo tick; sleep 0.1; done"
    for flags in (("-d", "-i", "-t"), ("-d", "-t")):
        box_id = box.run("run", *flags, busybox_image, "sh", "-c", loop).stdout.strip()
        proc = box.run("attach", box_id, input="", check=False)
        assert (proc.returncode, proc.stderr) == (1, "box: the input device is not a TTY\n")
        # without stdin the output is attached
        client = box.popen("attach", "--no-stdin", box_id, stdin=subprocess.DEVNULL)
        try:
            read_line_with(client, "tick")
        finally:
            client.kill()
            client.wait(timeout=10)
        assert state(box, box_id)["Running"] is True
    # a box that does not run is reported as such first
    box.run("create", "-t", "--name", "idle-tty", busybox_image, "true")
    proc = box.run("attach", "idle-tty", input="", check=False)
    assert proc.returncode != 0 and "start it first" in proc.stderr


def test_start_attached_takes_a_pipe_into_a_tty_box(box, runtime, busybox_image):
    # docker start -a -i does not check its input: a pipe's bytes reach the box's terminal
    box.run("create", "-i", "-t", "--runtime", runtime, "--name", "sti", busybox_image, "sh",
            "-c", 'read x; echo "got-$x"; exit 3')
    proc = box.run("start", "-a", "-i", "sti", input="abc\n", check=False, timeout=60)
    assert "got-abc" in proc.stdout, proc.stderr
    assert proc.returncode == 3


def test_attach_to_a_box_that_does_not_run(box, busybox_image):
    box.run("create", "--name", "idle", busybox_image, "true")
    proc = box.run("attach", "idle", check=False)
    assert proc.returncode != 0 and "start it first" in proc.stderr


# ---- without a terminal -----------------------------------------------------------------

TICKER = 'trap "exit 4" TERM; trap "exit 9" INT; i=0; while true; do echo tick-$i; ' \
         'i=$((i + 1)); sleep 0.1; done'


def read_line_with(proc, needle, timeout=20.0):
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], deadline - time.monotonic())
        if not ready:
            break
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if needle in line:
            return line
    raise AssertionError(f"{needle!r} not seen in {seen!r}")


def test_several_clients_attach_at_once_and_logs_go_on(box, runtime, busybox_image):
    box_id = box.run("run", "-d", "--runtime", runtime, busybox_image, "sh", "-c",
                     TICKER).stdout.strip()
    first = box.popen("attach", "--no-stdin", box_id, stdin=subprocess.DEVNULL)
    second = box.popen("attach", "--no-stdin", box_id, stdin=subprocess.DEVNULL)
    try:
        read_line_with(first, "tick-")
        read_line_with(second, "tick-")
        # one client dies: the box and the other client go on
        first.kill()
        first.wait(timeout=10)
        n = int(read_line_with(second, "tick-").split("-")[1])
        read_line_with(second, f"tick-{n + 3}")
        assert state(box, box_id)["Running"] is True
        # the log is still written while attached
        logs = box.run("logs", box_id).stdout
        assert f"tick-{n + 3}" in logs
        box.run("stop", box_id)
        assert second.wait(timeout=30) == 4
    finally:
        for p in (first, second):
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)


def test_attach_proxies_signals_without_a_tty(box, runtime, busybox_image):
    box_id = box.run("run", "-d", "--runtime", runtime, busybox_image, "sh", "-c",
                     TICKER).stdout.strip()
    client = box.popen("attach", box_id, stdin=subprocess.DEVNULL)
    try:
        read_line_with(client, "tick-")
        client.send_signal(signal.SIGINT)
        assert client.wait(timeout=30) == 9
        assert state(box, box_id)["ExitCode"] == 9
    finally:
        if client.poll() is None:
            client.kill()
            client.wait(timeout=10)


def test_attach_without_sig_proxy_leaves_the_box_alone(box, runtime, busybox_image):
    box_id = box.run("run", "-d", "--runtime", runtime, busybox_image, "sh", "-c",
                     TICKER).stdout.strip()
    # SIGINT at its default in the client, however the suite was started: a shell's
    # background job ignores it, and without a proxy box keeps it ignored, as docker does
    client = box.popen("attach", "--sig-proxy=false", box_id, stdin=subprocess.DEVNULL,
                       preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        read_line_with(client, "tick-")
        client.send_signal(signal.SIGINT)
        client.wait(timeout=30)
        assert state(box, box_id)["Running"] is True
    finally:
        if client.poll() is None:
            client.kill()
            client.wait(timeout=10)
        box.run("rm", "-f", box_id)


READ_LINES = 'while read l; do echo "got $l"; done; echo end; exit 7'


def test_attach_sends_stdin(box, runtime, busybox_image):
    # created with -i (StdinOnce, as docker records it): the end of an attached client's
    # input is the end of the box's
    box.run("create", "-i", "--runtime", runtime, "--name", "in", busybox_image, "sh", "-c",
            READ_LINES)
    box.run("start", "in")
    proc = box.run("attach", "in", input="one\ntwo\n", timeout=60, check=False)
    assert proc.stdout == "got one\ngot two\nend\n"
    assert proc.returncode == 7


def logs_show(box, box_id, needle):
    return wait_for(lambda: needle in box.run("logs", box_id).stdout, timeout=20)


def test_run_di_keeps_stdin_open_when_a_client_input_ends(box, runtime, busybox_image):
    # docker run -di records StdinOnce false: at the end of a client's input docker's daemon
    # closes that client's stdout and stderr and leaves the box's stdin open for the next
    # client; the client (like docker's CLI) still waits for the box's exit code
    box_id = box.run("run", "-d", "-i", "--runtime", runtime, busybox_image, "sh", "-c",
                     READ_LINES).stdout.strip()
    clients = []
    try:
        first = box.popen("attach", box_id, stdin=subprocess.PIPE)
        clients.append(first)
        first.stdin.write("one\n")
        first.stdin.close()
        assert logs_show(box, box_id, "got one")
        second = box.popen("attach", box_id, stdin=subprocess.PIPE)
        clients.append(second)
        second.stdin.write("two\n")
        second.stdin.flush()
        read_line_with(second, "got two")
        second.stdin.close()
        assert logs_show(box, box_id, "got two")
        # the box runs on, its stdin still open: a third client's input reaches it
        assert state(box, box_id)["Running"] is True
        third = box.popen("attach", box_id, stdin=subprocess.PIPE)
        clients.append(third)
        third.stdin.write("three\n")
        third.stdin.flush()
        read_line_with(third, "got three")
        assert first.poll() is None and second.poll() is None
        box.run("kill", box_id)
        assert [c.wait(timeout=30) for c in clients] == [137, 137, 137]
        # nothing reached a client after the end of its input (the box never saw its end)
        assert "got two" not in first.stdout.read()
        assert "got three" not in second.stdout.read()
        assert "end" not in third.stdout.read()
        assert "end" not in box.run("logs", box_id).stdout
    finally:
        for p in clients:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)


def test_start_ai_ends_the_box_stdin_with_the_client_input(box, runtime, busybox_image):
    # create -i records StdinOnce true: the end of the attached client's input is the end of
    # the box's stdin, and the client sees the output that follows until the exit
    box.run("create", "-i", "--runtime", runtime, "--name", "once", busybox_image, "sh", "-c",
            READ_LINES)
    proc = box.run("start", "-a", "-i", "once", input="one\ntwo\n", check=False, timeout=60)
    assert proc.stdout == "got one\ngot two\nend\n", proc.stderr
    assert proc.returncode == 7
    assert state(box, "once")["Running"] is False


ATTACH_FIELDS = ("AttachStdin", "AttachStdout", "AttachStderr", "OpenStdin", "StdinOnce")


def test_attach_fields_are_recorded_as_docker_records_them(box, busybox_image, ptys):
    def fields(ref):
        config = box.json("inspect", ref)[0]["Config"]
        return tuple(config[k] for k in ATTACH_FIELDS)

    box.run("run", "-d", "-i", "--name", "run-di", busybox_image, "cat")
    box.run("run", "-d", "--name", "run-d", busybox_image, "true")
    box.run("create", "-i", "--name", "create-i", busybox_image, "cat")
    box.run("create", "--name", "create", busybox_image, "true")
    box.run("run", "-i", "--name", "run-i", busybox_image, "cat", input="")
    box.run("run", "--name", "run", busybox_image, "true", input="")
    t = ptys(box, "run", "-it", "--name", "run-it", busybox_image, "true")
    assert t.wait() == 0
    # (AttachStdin, AttachStdout, AttachStderr, OpenStdin, StdinOnce) as docker's CLI sets them
    assert fields("run-di") == (False, False, False, True, False)
    assert fields("run-d") == (False, False, False, False, False)
    assert fields("create-i") == (True, True, True, True, True)
    assert fields("create") == (False, True, True, False, False)
    assert fields("run-i") == (True, True, True, True, True)
    assert fields("run") == (False, True, True, False, False)
    assert fields("run-it") == (True, True, True, True, True)


def test_run_a_attaches_only_the_streams_named(box, runtime, busybox_image):
    script = "echo out; echo err >&2; exit 3"
    for rm in ([], ["--rm"]):  # --rm without -a writes to our stdio directly; with -a it cannot
        only_out = box.run("run", *rm, "--runtime", runtime, "-a", "stdout", busybox_image,
                           "sh", "-c", script, check=False)
        assert (only_out.stdout, only_out.stderr, only_out.returncode) == ("out\n", "", 3)
        only_err = box.run("run", *rm, "--runtime", runtime, "-a", "STDERR", busybox_image,
                           "sh", "-c", script, check=False)
        assert (only_err.stdout, only_err.stderr, only_err.returncode) == ("", "err\n", 3)
    # what is not attached is still logged
    box.run("run", "--runtime", runtime, "--name", "half", "-a", "stderr", busybox_image, "sh",
            "-c", script, check=False)
    logs = box.run("logs", "half")
    assert (logs.stdout, logs.stderr) == ("out\n", "err\n")
    # -a stdin with -i: the input reaches the box
    echoed = box.run("run", "--rm", "--runtime", runtime, "-i", "-a", "stdin", "-a", "stdout",
                     busybox_image, "cat", input="typed\n")
    assert echoed.stdout == "typed\n"


def test_run_a_is_recorded_and_refused_with_d_or_an_unknown_stream(box, busybox_image):
    box.run("create", "-a", "stdin", "-a", "stdout", "--name", "c-a", busybox_image, "true")
    config = box.json("inspect", "c-a")[0]["Config"]
    # (AttachStdin, AttachStdout, AttachStderr, OpenStdin, StdinOnce) as docker's CLI sets them
    assert tuple(config[k] for k in ATTACH_FIELDS) == (True, True, False, False, False)
    box.run("create", "-i", "-a", "stdout", "--name", "c-ia", busybox_image, "cat")
    config = box.json("inspect", "c-ia")[0]["Config"]
    assert tuple(config[k] for k in ATTACH_FIELDS) == (True, True, False, True, True)
    conflict = box.run("run", "-d", "-a", "stdout", busybox_image, "true", check=False)
    assert conflict.returncode == 125
    assert "Conflicting options: -a and -d" in conflict.stderr
    bogus = box.run("run", "-a", "stdlog", busybox_image, "true", check=False)
    assert bogus.returncode == 125
    assert '"stdlog"' in bogus.stderr and "STDIN, STDOUT and STDERR" in bogus.stderr
    assert len(box.run("ps", "-aq").stdout.split()) == 2  # the refusals created nothing


def test_start_attached_interactive(box, runtime, busybox_image):
    box.run("create", "-i", "--runtime", runtime, "--name", "st", busybox_image, "sh", "-c",
            'read x; echo "got $x"; echo err-$x >&2; exit 2')
    proc = box.run("start", "-a", "-i", "st", input="abc\n", check=False, timeout=60)
    assert proc.stdout == "got abc\n" and proc.stderr == "err-abc\n"
    assert proc.returncode == 2


def test_run_attached_without_rm_streams_and_logs(box, runtime, busybox_image):
    proc = box.run("run", "--runtime", runtime, "--name", "rr", busybox_image, "sh", "-c",
                   "echo out; echo err >&2; exit 3", check=False)
    assert (proc.stdout, proc.stderr, proc.returncode) == ("out\n", "err\n", 3)
    assert box.run("logs", "rr").stdout == "out\n"


def test_a_client_that_stops_reading_does_not_hold_the_box(box, runtime, busybox_image):
    # the box writes fast; a client attached through a pipe nobody reads falls behind and is
    # dropped, while the box, its log and the monitor's other requests go on
    box_id = box.run("run", "-d", "--runtime", runtime, busybox_image, "sh", "-c",
                     'trap "exit 4" TERM; i=0; while true; do echo line-$i-0123456789abcdef; '
                     'i=$((i + 1)); done').stdout.strip()
    stuck = subprocess.Popen([BOX_BIN, "--root", str(box.root), "attach", "--no-stdin", box_id],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL)
    try:
        def last_line():
            tail = box.run("logs", "--tail", "1", box_id).stdout.split("-")
            return int(tail[1]) if len(tail) > 2 else 0

        time.sleep(1)
        # far more than the pipe, the socket and the client's queue hold (~1.2 MiB)
        first = last_line()
        assert wait_for(lambda: last_line() > first + 200000, timeout=60)
        started = time.monotonic()
        box.run("stop", "-t", "5", box_id, timeout=30)
        assert time.monotonic() - started < 10
        assert state(box, box_id)["Running"] is False
    finally:
        stuck.kill()
        stuck.wait(timeout=10)


def test_run_attached_output_waits_for_a_slow_reader(box, runtime, busybox_image):
    # the client that started the box attached loses nothing: while it does not read, the
    # box's output waits (as on a pipe) instead of being dropped
    proc = box.popen("run", "--runtime", runtime, busybox_image, "seq", "1", "300000")
    try:
        time.sleep(2)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert proc.returncode == 0, err
    lines = out.splitlines()
    assert len(lines) == 300000 and lines[-1] == "300000"


def test_a_client_dropped_for_lagging_is_told_why(box, runtime, busybox_image):
    # the box writes ~4 MB once the client is attached (its "go" arrives through it); the
    # client's output is a pipe read only afterwards, so it falls far more than 1 MiB behind:
    # it prints what it got before the drop, then why it was dropped, and exits 125
    box_id = box.run("run", "-d", "-i", "--runtime", runtime, busybox_image, "sh", "-c",
                     "read go; seq 1 600000; echo written; sleep 1000").stdout.strip()
    client = box.popen("attach", box_id, stdin=subprocess.PIPE)
    try:
        client.stdin.write("go\n")
        client.stdin.flush()
        assert wait_for(lambda: box.run("logs", "--tail", "1", box_id).stdout == "written\n",
                        timeout=60)
        out, err = client.communicate(timeout=60)
    finally:
        if client.poll() is None:
            client.kill()
            client.wait(timeout=10)
    assert err == f"box: attach to box {box_id}: dropped: fell more than 1 MiB behind the " \
                  "box's output\n"
    assert client.returncode == 125
    # what it printed is the output up to the drop, in order and whole
    lines = out.splitlines()
    assert 1 < len(lines) < 600000
    assert lines[:-1] == [str(i) for i in range(1, len(lines))]
    assert str(len(lines)).startswith(lines[-1])  # the drop may cut a line
    # the box goes on
    assert state(box, box_id)["Running"] is True
