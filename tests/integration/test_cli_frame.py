"""The CLI frame: version, info, help for every verb, error form and exit codes."""
import re
import subprocess

import pytest


def test_version(box):
    out = box.run("version").stdout
    assert re.fullmatch(r"box version \d+\.\d+\.\d+\n", out)


def test_info_reports_engine_facts(box):
    info = box.json("info")
    assert info["root"] == str(box.root)
    assert info["store_schema_version"] >= 1
    assert info["kernel"]["name"] == "Linux"
    assert info["cgroup"]["mode"] in ("v1", "hybrid", "v2")
    assert isinstance(info["features"]["overlayfs"], bool)


def test_info_cgroup_mode_matches_the_host(box):
    """/sys/fs/cgroup as cgroup2 is v2; as tmpfs with a cgroup2 'unified' below it, hybrid."""
    fstype = subprocess.run(["stat", "-f", "-c", "%T", "/sys/fs/cgroup"],
                            capture_output=True, text=True).stdout.strip()
    unified = subprocess.run(["stat", "-f", "-c", "%T", "/sys/fs/cgroup/unified"],
                             capture_output=True, text=True).stdout.strip()
    expected = "v2" if fstype == "cgroup2fs" else ("hybrid" if unified == "cgroup2fs" else "v1")
    assert box.json("info")["cgroup"]["mode"] == expected


def test_root_from_environment(tmp_path, box_bin):
    root = tmp_path / "from-env"
    out = subprocess.run([box_bin, "info"], capture_output=True, text=True,
                         env={"BOX_ROOT": str(root), "PATH": "/usr/bin:/bin"}, check=True)
    assert f'"root": "{root}"' in out.stdout
    assert (root / "box.db").exists()


def test_every_verb_has_help(box):
    out = box.run("--help").stdout
    verbs = re.findall(r"^  (\w+) ", out.split("Commands:")[1], re.M)
    assert {"info", "version", "create", "ps", "inspect", "rename", "rm"} <= set(verbs)
    for verb in verbs:
        proc = box.run(verb, "--help")
        assert proc.stdout.startswith(f"Usage: box {verb}"), verb


def test_unknown_verb_is_an_error(box):
    proc = box.run("frobnicate", check=False)
    assert proc.returncode == 125
    assert "box: 'frobnicate' is not a box command" in proc.stderr


def test_engine_error_form_and_exit_code(box):
    proc = box.run("inspect", "nothing-here", check=False)
    assert proc.returncode == 125
    assert proc.stderr == "box: No such box: nothing-here\n"


def test_unusable_state_dir_is_a_clear_error(tmp_path, box_bin):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    proc = subprocess.run([box_bin, "--root", str(blocker / "sub"), "info"],
                          capture_output=True, text=True)
    assert proc.returncode == 125
    assert proc.stderr.startswith("box: open state directory: mkdir ")
    assert "Not a directory" in proc.stderr


def test_attach_option_values_are_checked_with_a_reason(box):
    """run, start and attach share the parsing of --detach-keys and --sig-proxy."""
    for verb in (["attach"], ["start", "-a"], ["run"]):
        r = box.run(*verb, "--detach-keys", "ctrl-", "x", check=False)
        assert r.returncode == 125
        assert f"box: {verb[0]}: invalid detach keys \"ctrl-\"" in r.stderr, r.stderr
        assert f"See 'box {verb[0]} --help'." in r.stderr
    for verb in ("attach", "run"):
        r = box.run(verb, "--sig-proxy=maybe", "x", check=False)
        assert r.returncode == 125
        assert "invalid --sig-proxy value: maybe" in r.stderr
