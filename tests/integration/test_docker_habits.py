"""What a docker user expects of the CLI's checks and records, beyond the lifecycle itself:
bad options refused when the box is created (not at its first start), filters docker does not
know refused, env files read as docker reads them, the exit code of a start that failed, and
stop timeouts without a limit."""
import json
import subprocess
import time

import pytest

from conftest import BOX_BIN


@pytest.fixture
def img(busybox_image):
    return busybox_image


@pytest.mark.parametrize("option, words", [
    (["--ulimit", "foo=1:2"], ["--ulimit", "foo"]),
    (["--cap-add", "BOGUS"], ["--cap-add", "BOGUS"]),
    (["--cap-drop", "nope"], ["--cap-drop", "nope"]),
    (["--cpus", "0.0001"], ["--cpus", "0.01"]),
    (["--cpus", "100000"], ["--cpus", "CPUs available"]),
])
def test_create_refuses_what_could_never_start(box, img, option, words):
    result = box.run("create", *option, img, "true", check=False)
    assert result.returncode == 125, result
    assert all(w in result.stderr for w in words), result.stderr
    assert box.run("ps", "-aq").stdout == ""  # no box that can never start


def test_repeated_ulimit_keeps_the_last_and_negative_pids_limit_is_unlimited(box, img):
    out = box.run("run", "--rm", "--ulimit", "nofile=100", "--ulimit", "nofile=200:300",
                  "--pids-limit", "-1", img, "sh", "-c", "ulimit -n; ulimit -Hn").stdout.split()
    assert out == ["200", "300"]


@pytest.mark.parametrize("verb, option", [
    ("ps", "bogus=1"), ("ps", "status=bogus"), ("ps", "exited=x"), ("ps", "noequals"),
    ("events", "foo=bar"),
])
def test_filters_docker_does_not_know_are_refused(box, verb, option):
    result = box.run(verb, "--filter", option, *(["--until", "0s"] if verb == "events" else []),
                     check=False)
    assert result.returncode == 125, result
    assert "invalid filter" in result.stderr, result.stderr


def test_events_since_after_until_is_refused(box):
    result = box.run("events", "--since", "1m", "--until", "2m", check=False)
    assert result.returncode == 125 and "after --until" in result.stderr, result


def test_env_file_is_read_as_docker_reads_it(box, img, tmp_path):
    env_file = tmp_path / "env"
    env_file.write_text("# a comment\n\n  A=1 2\nB=x=y\nHOME\n")
    out = box.run("run", "--rm", "--env-file", str(env_file), img, "env",
                  env={"HOME": "/from-the-caller"}).stdout.splitlines()
    assert {"A=1 2", "B=x=y", "HOME=/from-the-caller"} <= set(out), out

    env_file.write_text("A=1\nC D=2\n")
    result = box.run("run", "--rm", "--env-file", str(env_file), img, "true", check=False)
    assert result.returncode == 125 and "line 2" in result.stderr and "'C D'" in result.stderr
    result = box.run("run", "--rm", "--env-file", str(tmp_path), img, "true", check=False)
    assert result.returncode == 125 and "Is a directory" in result.stderr, result


@pytest.mark.parametrize("command, code", [("nosuchcommand", 127), ("/etc", 126)])
def test_a_start_that_failed_records_docker_exit_code(box, img, command, code):
    result = box.run("run", "--name", "failed", img, command, check=False)
    assert result.returncode == code, result
    state = box.json("inspect", "failed")[0]["State"]
    assert (state["Status"], state["ExitCode"]) == ("created", code), state
    assert command in state["Error"]


def test_ps_table_and_json_like_docker(box, img):
    box.run("create", "--name", "a-rather-long-box-name", img, "sh", "-c",
            "echo a command long enough to be truncated")
    lines = box.run("ps", "-a").stdout.splitlines()
    header = lines[0]
    for column in ("BOX ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "NAMES"):
        assert column in header
    # each column starts where its header starts (the widths fit the widest cell)
    assert lines[1].index("a-rather-long-box-name") == header.index("NAMES"), lines
    row = json.loads(box.run("ps", "-a", "--format", "json").stdout)
    assert row["CreatedAt"].endswith("+0000 UTC") and row["RunningFor"].endswith("ago"), row


def test_stop_timeout_minus_one_waits_without_limit(box, img):
    box_id = box.run("run", "-d", "--stop-timeout", "1", img, "sh", "-c",
                     "trap '' TERM; while true; do sleep 0.1; done").stdout.strip()
    stop = box.popen("stop", "-t", "-1", box_id)
    time.sleep(2.5)  # the box's own timeout (1 s) would have killed it by now
    assert stop.poll() is None
    assert box.json("inspect", box_id)[0]["State"]["Running"] is True
    box.run("kill", box_id)
    stop.wait(timeout=30)
    assert stop.returncode == 0
    recorded = box.run("run", "-d", "--stop-timeout", "-1", img, "true").stdout.strip()
    assert box.json("inspect", recorded)[0]["Config"]["StopTimeout"] == -1


def test_inspect_format_templates(box, img):
    box.run("create", "--name", "fmt", "-l", "b=2", "-l", "a=1", img, "sleep", "5")
    out = box.run("inspect", "-f", "{{.Name}} {{.State.Status}} {{.State.Running}} "
                  "{{.Config.Cmd}} {{.Config.Labels}} {{json .Config.Cmd}}", "fmt").stdout
    assert out == '/fmt created false [sleep 5] map[a:1 b:2] ["sleep","5"]\n', out
    # options after the reference too, and {{- -}} trimming, one line per box
    out = box.run("inspect", "fmt", "fmt", "--format", "x  {{- .State.ExitCode -}}  y").stdout
    assert out == "x0y\nx0y\n", out
    assert box.run("image", "inspect", "-f", "{{.Id}}", "busybox").stdout.strip() == img
    for bad, words in (("{{.State.Nope}}", "no field Nope"), ("{{if .State.Running}}", "unsupported"),
                       ("{{.State.Pid", "unclosed")):
        result = box.run("inspect", "-f", bad, "fmt", check=False)
        assert result.returncode == 125 and words in result.stderr, (bad, result)
    result = box.run("inspect", "--bogus", "fmt", check=False)
    assert result.returncode == 125 and "unknown option" in result.stderr


def test_a_relative_seccomp_profile_is_the_one_create_saw(box, img, tmp_path):
    (tmp_path / "profile.json").write_text(json.dumps({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}))
    created = subprocess.run([*box_cli(box), "create", "--security-opt", "seccomp=profile.json",
                              img, "mkdir", "/x"], cwd=tmp_path, capture_output=True, text=True,
                             check=True).stdout.strip()
    started = subprocess.run([*box_cli(box), "start", "-a", created], cwd="/",
                             capture_output=True, text=True)
    assert started.returncode == 1 and "Operation not permitted" in started.stderr, started
    missing = box.run("create", "--security-opt", "seccomp=no-such-profile.json", img, "true",
                      check=False)
    assert missing.returncode == 125 and "no-such-profile.json" in missing.stderr


def box_cli(box):
    return [BOX_BIN, "--root", str(box.root)]
