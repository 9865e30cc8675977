"""box push against real registries: skipping, cross-repository mounts, chunked uploads, auth,
and round trips that keep every digest."""
import json

from registry import USERS, Registry


def pull_digest(stdout):
    for line in stdout.splitlines():
        if line.startswith("Digest: "):
            return line.split(" ", 1)[1]
    raise AssertionError(f"no digest in {stdout!r}")


def test_push_round_trip_keeps_digests(box, registry, busybox_layout, tmp_path, docker_config):
    registry.skopeo_copy(busybox_layout.path, "busybox:2", tag="2")
    _, original = registry.manifest("busybox", "2")
    box.run("pull", f"{registry.host}/busybox:2")

    other = Registry(tmp_path / "registry-b")
    try:
        target = f"{other.host}/copy/busybox:2"
        box.run("tag", f"{registry.host}/busybox:2", target)
        pushed = box.run("push", target)
        assert pushed.stdout.count("Pushed") == 2
        assert f"digest: {original}" in pushed.stdout
        _, remote = other.manifest("copy/busybox", "2")
        assert remote == original
        (pushed_image,) = box.json("image", "inspect", target)
        assert f"{other.host}/copy/busybox@{original}" in pushed_image["RepoDigests"]

        again = box.run("push", target)
        assert again.stdout.count("Layer already exists") == 2
        assert "Pushed" not in again.stdout

        # rmi, then pull what was pushed: the same manifest digest and image id
        image_id = box.json("image", "inspect", target)[0]["Id"]
        box.run("rmi", "-f", target, f"{registry.host}/busybox:2")
        pulled = box.run("pull", target)
        assert pull_digest(pulled.stdout) == original
        assert box.json("image", "inspect", target)[0]["Id"] == image_id
    finally:
        other.stop()


def test_push_mounts_blobs_from_another_repository(box, registry, busybox_layout):
    registry.skopeo_copy(busybox_layout.path, "busybox:1", tag="1")
    box.run("pull", f"{registry.host}/busybox:1")
    box.run("tag", f"{registry.host}/busybox:1", f"{registry.host}/team/mirror:1")
    proc = box.run("push", f"{registry.host}/team/mirror:1")
    assert "Mounted from another repository" in proc.stdout
    assert "Pushed" not in proc.stdout
    _, source = registry.manifest("busybox", "1")
    _, mounted = registry.manifest("team/mirror", "1")
    assert mounted == source


def test_push_chunked_upload(box, registry, busybox_layout, tmp_path):
    registry.skopeo_copy(busybox_layout.path, "busybox:1", tag="1")
    box.run("pull", f"{registry.host}/busybox:1")
    other = Registry(tmp_path / "registry-chunks")
    try:
        target = f"{other.host}/chunked:1"
        box.run("tag", f"{registry.host}/busybox:1", target)
        # the busybox layer is about 1 MB: 64 KiB chunks make it ~16 PATCH requests
        proc = box.run("push", "--chunk-size", "65536", target)
        assert "Pushed" in proc.stdout
        _, source = registry.manifest("busybox", "1")
        _, remote = other.manifest("chunked", "1")
        assert remote == source
        from conftest import Box
        fresh = Box(tmp_path / "fresh")
        assert "Pull complete" in fresh.run("pull", target).stdout
    finally:
        other.stop()


def test_push_needs_permission(box, registry_token, busybox_layout):
    registry_token.skopeo_copy(busybox_layout.path, "busybox:1", tag="1")
    bob = {"BOX_REGISTRY_AUTH_HOST": registry_token.host,
           "BOX_REGISTRY_AUTH": f"bob:{USERS['bob']}"}
    box.run("pull", f"{registry_token.host}/busybox:1", env=bob)
    target = f"{registry_token.host}/shared/busybox:1"
    box.run("tag", f"{registry_token.host}/busybox:1", target)
    denied = box.run("push", target, env=bob, check=False)
    assert denied.returncode == 125
    assert registry_token.host in denied.stderr
    assert "denied" in denied.stderr
    assert USERS["bob"] not in denied.stderr

    alice = dict(bob, BOX_REGISTRY_AUTH=f"alice:{USERS['alice']}")
    pushed = box.run("push", target, env=alice)
    assert "digest: sha256:" in pushed.stdout


def test_push_basic_auth_after_login(box, registry_basic, busybox_layout):
    registry_basic.skopeo_copy(busybox_layout.path, "busybox:1", tag="1")
    box.run("login", registry_basic.host, "-u", "alice", "--password-stdin",
            input=USERS["alice"])
    box.run("pull", f"{registry_basic.host}/busybox:1")
    box.run("tag", f"{registry_basic.host}/busybox:1", f"{registry_basic.host}/again:1")
    proc = box.run("push", f"{registry_basic.host}/again:1")
    assert "digest: sha256:" in proc.stdout
    box.run("logout", registry_basic.host)
    refused = box.run("push", f"{registry_basic.host}/again:1", check=False)
    assert refused.returncode == 125
    assert "authentication required" in refused.stderr


def test_push_unknown_image(box, registry):
    proc = box.run("push", f"{registry.host}/nothing:1", check=False)
    assert proc.returncode == 125
    assert "nothing" in proc.stderr



def test_round_trip_push_rmi_pull_save_load(box, registry, busybox_layout, tmp_path):
    """push → rmi → pull → save → load: the image id, layers and manifest digest survive."""
    registry.skopeo_copy(busybox_layout.path, "busybox:2", tag="2")
    _, original = registry.manifest("busybox", "2")
    source = f"{registry.host}/busybox:2"
    box.run("pull", source)
    (before,) = box.json("image", "inspect", source)

    target = f"{registry.host}/trip/busybox:2"
    box.run("tag", source, target)
    box.run("push", target)
    box.run("rmi", "-f", source, target)
    assert pull_digest(box.run("pull", target).stdout) == original

    formats = ("docker-archive", "oci-archive")
    for fmt in formats:  # both from the pulled image
        box.run("save", "--format", fmt, "-o", str(tmp_path / f"busybox-{fmt}.tar"), target)
    for fmt in formats:
        box.run("rmi", "-f", target)  # its last tag: the image goes
        box.run("load", "-i", str(tmp_path / f"busybox-{fmt}.tar"))
        (after,) = box.json("image", "inspect", target)
        assert after["Id"] == before["Id"]
        assert after["RootFS"]["Layers"] == before["RootFS"]["Layers"]

    # what the oci-archive round trip (loaded last) kept is pushed byte for byte again
    again = f"{registry.host}/trip/again:2"
    box.run("tag", target, again)
    assert f"digest: {original}" in box.run("push", again).stdout


def test_push_progress_shows_bytes_on_a_terminal(box, box_bin, registry, busybox_layout,
                                                  tmp_path):
    """On a terminal each uploading layer has a bar with bytes sent so far, not only its
    start and end (64 KiB chunks: many progress steps for the ~1 MB busybox layer)."""
    import os
    import pty
    import re
    import subprocess
    import threading
    registry.skopeo_copy(busybox_layout.path, "busybox:1", tag="1")
    box.run("pull", f"{registry.host}/busybox:1")
    other = Registry(tmp_path / "registry-progress")
    try:
        target = f"{other.host}/progress:1"
        box.run("tag", f"{registry.host}/busybox:1", target)
        master, slave = pty.openpty()
        proc = subprocess.Popen([box_bin, "--root", str(box.root), "push", "--chunk-size",
                                 "65536", target],
                                stdout=slave, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        os.close(slave)
        chunks = []

        def drain():
            while True:
                try:
                    data = os.read(master, 65536)
                except OSError:
                    return
                if not data:
                    return
                chunks.append(data)
        reader = threading.Thread(target=drain)
        reader.start()
        _, err = proc.communicate(timeout=120)
        reader.join(timeout=30)
        os.close(master)
        shown = b"".join(chunks).decode(errors="replace")
        assert proc.returncode == 0, err
        bars = re.findall(r"Pushing \[[=> ]*\] (\S+)/(\S+)", shown)
        # byte counts between the first and the last: more than 0 and less than the total
        assert len({sent for sent, _ in bars}) >= 3, shown
        assert "Pushed" in shown
    finally:
        other.stop()
