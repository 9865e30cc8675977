"""--device HOST[:BOX][:PERMISSIONS] (docker's syntax): what create stores (inspect's
HostConfig.Devices), what the bundle carries (linux.devices and the cgroup allow rule), and
the refusals, each naming the value (exit 125). Whether the device works inside the box, and
whether the kernel enforces its permissions, is tested in test_cgroups.py (which the pure
cgroup v2 guest runs too)."""
import json
import os

import pytest

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="boxes need root")


def test_inspect_shows_the_devices(box, busybox_image):
    box.run("create", "--name", "dev", "--device", "/dev/null:/dev/mydev:r",
            "--device", "/dev/zero", "--device", "//dev/./full:rw", "busybox", "true")
    devices = box.json("inspect", "dev")[0]["HostConfig"]["Devices"]
    assert devices == [
        {"PathOnHost": "/dev/null", "PathInContainer": "/dev/mydev", "CgroupPermissions": "r"},
        {"PathOnHost": "/dev/zero", "PathInContainer": "/dev/zero", "CgroupPermissions": "rwm"},
        {"PathOnHost": "/dev/full", "PathInContainer": "/dev/full", "CgroupPermissions": "rw"},
    ]
    box.run("create", "--name", "plain", "busybox", "true")
    assert box.json("inspect", "plain")[0]["HostConfig"]["Devices"] == []


@pytest.mark.parametrize("runtime", ["native", "runc"])
def test_bundle_carries_the_devices(box, busybox_image, runtime):
    box_id = box.run("run", "-d", "--runtime", runtime, "--device", "/dev/zero:/dev/mydev:rw",
                     "busybox", "sleep", "60").stdout.strip()
    try:
        config = json.loads((box.root / "boxes" / box_id / "config.json").read_text())
        st = os.stat("/dev/zero")
        major, minor = os.major(st.st_rdev), os.minor(st.st_rdev)
        assert config["linux"]["devices"] == [
            {"path": "/dev/mydev", "type": "c", "major": major, "minor": minor,
             "fileMode": st.st_mode & 0o7777, "uid": 0, "gid": 0}]
        rules = config["linux"]["resources"]["devices"]
        assert rules[0] == {"allow": False, "access": "rwm", "type": "a"}
        assert rules[-1] == {"allow": True, "type": "c", "major": major, "minor": minor,
                             "access": "rw"}
    finally:
        box.run("rm", "-f", box_id)


def test_privileged_keeps_every_device_and_adds_the_node(box, busybox_image):
    proc = box.run("run", "--rm", "--privileged", "--device", "/dev/null:/dev/mydev",
                   "busybox", "sh", "-c",
                   "echo x > /dev/mydev && mknod /tmp/kmsg c 1 11 && echo box-test > /tmp/kmsg "
                   "&& echo ok", check=False)
    assert proc.stdout.split() == ["ok"], proc.stderr


@pytest.mark.parametrize("verb", ["run", "create"])
@pytest.mark.parametrize("spec, message", [
    ("/nonexistent-device", "device /nonexistent-device: No such file or directory"),
    ("/etc/hostname", "device /etc/hostname: not a device node (it is a regular file)"),
    ("/proc/self/fdinfo", "device /proc/self/fdinfo: not a device node, and no device node "
                          "is below the directory"),
    ("/dev/null:/dev/x:rwx", 'bad permissions "rwx"'),
    ("/dev/null:/dev/x:", 'bad permissions ""'),
    ("/dev/null:dev/x", 'the path in the box "dev/x" is not an absolute path'),
    ("/dev/null:rwq", 'the path in the box "rwq" is not an absolute path'),
    ("dev/null", 'the host path "dev/null" is not an absolute path'),
    ("/dev/null:/a:r:w", "expected HOST[:BOX][:PERMISSIONS]"),
])
def test_bad_devices_are_refused(box, busybox_image, verb, spec, message):
    proc = box.run(verb, "--device", spec, "busybox", "true", check=False)
    assert proc.returncode == 125, proc
    assert message in proc.stderr, proc.stderr
    assert proc.stdout == ""
    assert box.run("ps", "-a", "-q").stdout == ""


def make_device_directory(top):
    """char devices 1:3 and 1:5 at the top, 1:7 two directories down, a regular file, a symlink
    to a device and an empty directory (all skipped)."""
    (top / "deeper" / "sub").mkdir(parents=True)
    (top / "nothing-here").mkdir()
    for path, mode, minor in ((top / "mynull", 0o666, 3), (top / "myzero", 0o640, 5),
                              (top / "deeper" / "sub" / "myfull", 0o600, 7)):
        os.mknod(path, mode | 0o020000, os.makedev(1, minor))
        os.chmod(path, mode)  # past the umask
    (top / "regular").write_text("not a device\n")
    os.symlink("/dev/null", top / "link-to-null")
    return top


@pytest.mark.parametrize("runtime", ["native", "runc"])
def test_a_directory_stands_for_the_nodes_below_it(box, busybox_image, tmp_path, runtime):
    top = make_device_directory(tmp_path / "devs")
    box_id = box.run("run", "-d", "--runtime", runtime, "--device", f"{top}:/dev/mine:rw",
                     "busybox", "sleep", "60").stdout.strip()
    try:
        # stored as given, like docker: the directory is walked again at each start
        assert box.json("inspect", box_id)[0]["HostConfig"]["Devices"] == [
            {"PathOnHost": str(top), "PathInContainer": "/dev/mine", "CgroupPermissions": "rw"}]
        config = json.loads((box.root / "boxes" / box_id / "config.json").read_text())
        assert config["linux"]["devices"] == [
            {"path": "/dev/mine/deeper/sub/myfull", "type": "c", "major": 1, "minor": 7,
             "fileMode": 0o600, "uid": 0, "gid": 0},
            {"path": "/dev/mine/mynull", "type": "c", "major": 1, "minor": 3,
             "fileMode": 0o666, "uid": 0, "gid": 0},
            {"path": "/dev/mine/myzero", "type": "c", "major": 1, "minor": 5,
             "fileMode": 0o640, "uid": 0, "gid": 0}]
        rules = config["linux"]["resources"]["devices"]
        assert rules[-3:] == [{"allow": True, "type": "c", "major": 1, "minor": m,
                               "access": "rw"} for m in (7, 3, 5)]
    finally:
        box.run("rm", "-f", box_id)


def test_a_directory_keeps_the_path_when_no_box_path_is_given(box, busybox_image, tmp_path):
    top = make_device_directory(tmp_path / "devs")
    proc = box.run("run", "--rm", "--device", str(top), "busybox", "sh", "-c",
                   f"find {top} | sort", check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [str(top), f"{top}/deeper", f"{top}/deeper/sub",
                                   f"{top}/deeper/sub/myfull", f"{top}/mynull",
                                   f"{top}/myzero"]


def test_a_directory_without_devices_is_refused(box, busybox_image, tmp_path):
    empty = tmp_path / "empty"
    (empty / "sub").mkdir(parents=True)
    (empty / "file").write_text("x")
    proc = box.run("create", "--device", str(empty), "busybox", "true", check=False)
    assert proc.returncode == 125
    assert f"device {empty}: not a device node, and no device node is below the directory" \
        in proc.stderr, proc.stderr
    assert box.run("ps", "-a", "-q").stdout == ""


def test_a_device_gone_at_start_fails_the_start(box, busybox_image, tmp_path):
    node = tmp_path / "mynull"
    null = os.stat("/dev/null")
    os.mknod(node, 0o666 | 0o020000, null.st_rdev)
    box.run("create", "--name", "gone", "--device", f"{node}:/dev/mydev", "busybox", "true")
    node.unlink()
    proc = box.run("start", "gone", check=False)
    assert proc.returncode != 0
    assert f"device {node}: No such file or directory" in proc.stderr, proc.stderr
