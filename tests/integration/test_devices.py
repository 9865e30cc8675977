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
    ("/dev", "device /dev: not a device node (it is a directory)"),
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


def test_a_device_gone_at_start_fails_the_start(box, busybox_image, tmp_path):
    node = tmp_path / "mynull"
    null = os.stat("/dev/null")
    os.mknod(node, 0o666 | 0o020000, null.st_rdev)
    box.run("create", "--name", "gone", "--device", f"{node}:/dev/mydev", "busybox", "true")
    node.unlink()
    proc = box.run("start", "gone", check=False)
    assert proc.returncode != 0
    assert f"device {node}: No such file or directory" in proc.stderr, proc.stderr
