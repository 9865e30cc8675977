"""Following across processes: `box events` and `box logs -f` are woken by what other
processes write (inotify of the events stamp / of the box's log directory, a pidfd of the
monitor), never by polling; the backlog and the live stream neither repeat nor skip
anything; a rotated log is followed into its next file; a follow ends with the box."""
import json
import os
import queue
import signal
import threading
import time

import pytest

from conftest import box_monitors

# Followers look again unprompted only every 10 s (events) as a safety net; a wake that
# takes longer than this is a missed notification, not a slow machine.
WAKE_TIMEOUT = 5.0


@pytest.fixture
def img(busybox_image):
    return busybox_image


class Lines:
    """Reads a process's stdout on a thread; get() waits for the next line with a timeout."""

    def __init__(self, proc):
        self.proc = proc
        self.queue = queue.Queue()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.stdout:
            self.queue.put(line)
        self.queue.put(None)

    def get(self, timeout):
        try:
            return self.queue.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no line within {timeout} s")

    def until(self, predicate, timeout):
        """Lines up to and including the first that satisfies predicate."""
        seen = []
        deadline = time.monotonic() + timeout
        while True:
            line = self.get(max(0.01, deadline - time.monotonic()))
            assert line is not None, f"the stream ended; seen: {seen}"
            seen.append(line)
            if predicate(line):
                return seen

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)
        self.thread.join(timeout=30)


def events_follower(box, *args):
    return Lines(box.popen("events", "--format", "json", *args))


def test_events_wake_on_each_event_written_by_another_process(box, img):
    box.run("create", "--name", "ping", img, "true")
    stream = events_follower(box, "--since", "1h", "--filter", "event=rename")
    try:
        # the first rename arrives live or from the backlog: either way the follower is set up
        box.run("rename", "ping", "pong0")
        stream.until(lambda l: json.loads(l)["Actor"]["Attributes"]["name"] == "pong0", 60)
        for i in range(1, 11):
            box.run("rename", f"pong{i - 1}", f"pong{i}")
            # well under the follower's fallback interval: only a notification can be this fast
            line = stream.get(WAKE_TIMEOUT)
            assert json.loads(line)["Actor"]["Attributes"]["name"] == f"pong{i}"
    finally:
        stream.stop()


def test_events_backlog_and_live_neither_repeat_nor_skip(box, img):
    box.run("create", "--name", "n0", img, "true")
    renames = 60
    started = threading.Event()
    failures = []

    def writer():
        try:
            for i in range(renames):
                box.run("rename", f"n{i}", f"n{i + 1}")
                if i == renames // 3:
                    started.set()
        except Exception as e:  # reported by the main thread
            failures.append(e)
            started.set()

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    assert started.wait(timeout=120)
    # joins while the writer goes on: part of its renames come from the backlog, the rest live
    stream = events_follower(box, "--since", "1h", "--filter", "event=rename")
    try:
        seen = stream.until(lambda l: json.loads(l)["Actor"]["Attributes"]["name"] == f"n{renames}",
                            120)
    finally:
        stream.stop()
    thread.join(timeout=120)
    assert not failures, failures
    names = [json.loads(l)["Actor"]["Attributes"]["name"] for l in seen]
    assert names == [f"n{i}" for i in range(1, renames + 1)]
    # the same events, in the same order, as a reader of the whole log sees them
    everything = [e["Actor"]["Attributes"]["name"]
                  for e in box.json_lines("events", "--since", "1h", "--until", "0s",
                                          "--format", "json", "--filter", "event=rename")]
    assert everything == names


def test_events_follow_from_now_skips_the_past(box, img):
    box.run("create", "--name", "old", img, "true")
    stream = events_follower(box, "--filter", "type=container")
    try:
        # the follower may not be set up yet when this rename commits; repeat until one
        # arrives: the past (the create) must never show
        deadline = time.monotonic() + 60
        name = "old"
        while True:
            new = f"r{int(time.monotonic() * 1000)}"
            box.run("rename", name, new)
            name = new
            try:
                line = stream.get(1.0)
                break
            except AssertionError:
                assert time.monotonic() < deadline
        assert json.loads(line)["Action"] == "rename"
    finally:
        stream.stop()


def test_events_until_in_the_future_follows_then_ends(box, img):
    box.run("create", "--name", "u0", img, "true")
    start = time.time()
    proc = box.popen("events", "--format", "json", "--since", "1h",
                     "--until", str(int(start) + 4), "--filter", "event=rename")
    box.run("rename", "u0", "u1")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    names = [json.loads(l)["Actor"]["Attributes"]["name"] for l in out.splitlines()]
    assert names == ["u1"]


def log_lines(n, width=40):
    """A shell loop that prints n numbered lines of about width bytes, a few at a time."""
    return ("i=0; while [ $i -lt %d ]; do printf 'line%%05d %s\\n' $i; "
            "i=$((i+1)); [ $((i %% 20)) -eq 0 ] && sleep 0.2; done" % (n, "x" * width))


def expected_lines(n, width=40):
    return "".join("line%05d %s\n" % (i, "x" * width) for i in range(n))


def test_logs_follow_reads_through_rotations_exactly_once(box, img):
    n = 400
    # ~110-byte records, 4 kB files: a rotation every ~37 lines (11 in all); the 16 files
    # kept hold all of them, so nothing is lost to the cap and every line must come exactly
    # once. The box takes ~4 s; the second follower joins half-way.
    box_id = box.run("run", "-d", "--log-opt", "max-size=4k", "--log-opt", "max-file=16", img,
                     "sh", "-c", "sleep 0.5; " + log_lines(n)).stdout.strip()
    early = box.popen("logs", "-f", box_id)
    # a second follower joins while rotations happen: its backlog and its live part meet
    time.sleep(1.5)
    late = box.popen("logs", "-f", box_id)
    early_out, early_err = early.communicate(timeout=120)
    late_out, late_err = late.communicate(timeout=120)
    assert early.returncode == 0, early_err
    assert late.returncode == 0, late_err
    d = box.root / "boxes" / box_id
    assert (d / "json.log.5").exists()  # it did rotate, many times
    assert early_out == expected_lines(n)
    assert late_out == expected_lines(n)
    assert box.run("logs", box_id).stdout == expected_lines(n)


def test_logs_follow_wakes_on_each_line(box, img):
    # one line a second: the follower must pass on each as it comes, then end with the box
    box_id = box.run("run", "-d", img, "sh", "-c",
                     "i=0; while [ $i -lt 4 ]; do echo tick$i; i=$((i+1)); sleep 1; done").stdout.strip()
    follow = Lines(box.popen("logs", "-f", box_id))
    try:
        for i in range(4):
            assert follow.get(WAKE_TIMEOUT) == f"tick{i}\n"
        assert follow.get(WAKE_TIMEOUT) is None  # the box ended: so did the follow
        assert follow.proc.wait(timeout=30) == 0
    finally:
        follow.stop()


def test_logs_follow_ends_when_the_box_is_stopped(box, img):
    box_id = box.run("run", "-d", img, "sh", "-c",
                     "echo ready; trap 'echo bye; exit 0' TERM; while true; do sleep 0.1; done"
                     ).stdout.strip()
    follow = Lines(box.popen("logs", "-f", box_id))
    try:
        assert follow.get(60) == "ready\n"
        box.run("stop", "-t", "5", box_id)
        assert follow.get(WAKE_TIMEOUT) == "bye\n"  # drained: what the box said last
        assert follow.get(WAKE_TIMEOUT) is None
        assert follow.proc.wait(timeout=30) == 0
    finally:
        follow.stop()
    box.run("rm", box_id)


def test_logs_follow_ends_when_the_monitor_dies(box, img):
    box_id = box.run("run", "-d", img, "sh", "-c", "echo ready; sleep 60").stdout.strip()
    follow = Lines(box.popen("logs", "-f", box_id))
    try:
        assert follow.get(60) == "ready\n"
        [pid] = [pid for pid, of in box_monitors(box.root) if of == box_id]
        os.kill(pid, signal.SIGKILL)
        assert follow.get(WAKE_TIMEOUT) is None
        assert follow.proc.wait(timeout=30) == 0
    finally:
        follow.stop()
    box.run("rm", "-f", box_id)


def test_logs_follow_of_a_box_that_is_not_running_prints_and_ends(box, img):
    box_id = box.run("run", "-d", img, "sh", "-c", "echo one; echo two").stdout.strip()
    box.run("wait", box_id)
    proc = box.popen("logs", "-f", box_id)
    out, err = proc.communicate(timeout=60)
    assert (proc.returncode, out) == (0, "one\ntwo\n"), err


def test_logs_follow_under_fast_rotation_keeps_order_without_repeats(box, img):
    # 1 kB files, 2 kept: the box outruns the cap, so early lines are gone before a late
    # follower reads them; what each follower prints must still be in order, without a
    # repeat, and end with the last line
    n = 300
    box_id = box.run("run", "-d", "--log-opt", "max-size=1k", "--log-opt", "max-file=2", img,
                     "sh", "-c", "i=0; while [ $i -lt %d ]; do echo line$i; i=$((i+1)); "
                     "[ $((i %% 7)) -eq 0 ] && usleep 2000; done" % n).stdout.strip()
    followers = []
    for delay in (0, 0.1, 0.3):
        time.sleep(delay)
        followers.append(box.popen("logs", "-f", box_id))
    for follower in followers:
        out, err = follower.communicate(timeout=120)
        assert follower.returncode == 0, err
        numbers = [int(line[4:]) for line in out.splitlines()]
        assert numbers == sorted(set(numbers)), numbers
        assert numbers[-1] == n - 1
