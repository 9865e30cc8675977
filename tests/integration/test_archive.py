"""box save / box load: docker-archive and oci-archive in both directions, round trips that
keep image ids and digests, archives written by skopeo, and corrupt archives that leave
nothing behind."""
import gzip
import io
import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from rootfs import busybox_rootfs_tar

SKOPEO = shutil.which("skopeo")


def inspect(box, ref):
    return box.json("image", "inspect", ref)[0]


def members(path):
    with tarfile.open(path) as t:
        return {m.name: m for m in t.getmembers()}


def read_member(path, name):
    with tarfile.open(path) as t:
        return t.extractfile(name).read()


def blob_count(box):
    d = box.root / "blobs" / "sha256"
    return len([p for p in d.iterdir() if not p.name.startswith(".")]) if d.exists() else 0


def layer_dirs(box):
    d = box.root / "layers"
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


@pytest.mark.parametrize("fmt", ["docker-archive", "oci-archive"])
def test_save_rmi_load_keeps_id_and_digests(box, busybox_image, tmp_path, fmt):
    before = inspect(box, "busybox:latest")
    archive = tmp_path / "busybox.tar"
    box.run("save", "--format", fmt, "-o", str(archive), "busybox:latest")
    box.run("rmi", "busybox:latest")
    assert box.run("images", "-q").stdout.strip() == ""
    assert blob_count(box) == 0 and layer_dirs(box) == []

    out = box.run("load", "-i", str(archive))
    assert out.stdout == "Loaded image: busybox:latest\n"
    after = inspect(box, "busybox:latest")
    assert after["Id"] == before["Id"]
    assert after["RootFS"]["Layers"] == before["RootFS"]["Layers"]
    assert after["Config"] == before["Config"]
    if fmt == "oci-archive":
        # the stored manifest travels byte for byte
        index = json.loads(read_member(archive, "index.json"))
        digest = index["manifests"][0]["digest"]
        assert (box.root / "blobs" / "sha256" / digest.split(":")[1]).exists()
    # the loaded image runs off its unpacked layer
    assert len(layer_dirs(box)) == 1
    layer = box.root / "layers" / layer_dirs(box)[0]
    assert (layer / "bin" / "busybox").read_bytes() == Path("/bin/busybox").read_bytes()
    assert (layer / "bin" / "sh").is_symlink()


def test_docker_archive_layout(box, busybox_image, tmp_path):
    archive = tmp_path / "d.tar"
    box.run("save", "-o", str(archive), "busybox")
    names = members(archive)
    manifest = json.loads(read_member(archive, "manifest.json"))
    assert len(manifest) == 1
    item = manifest[0]
    assert list(item) == ["Config", "RepoTags", "Layers"]
    assert item["RepoTags"] == ["busybox:latest"]
    image = inspect(box, "busybox")
    assert item["Config"] == image["Id"].split(":")[1] + ".json"
    # layers are uncompressed tars named by their diff id, whose sha256 they are
    import hashlib
    for path, diff_id in zip(item["Layers"], image["RootFS"]["Layers"]):
        data = read_member(archive, path)
        assert "sha256:" + hashlib.sha256(data).hexdigest() == diff_id
    assert json.loads(read_member(archive, "repositories")) == {
        "busybox": {"latest": image["RootFS"]["Layers"][-1].split(":")[1]}}
    assert set(names) == {"manifest.json", "repositories", item["Config"], *item["Layers"]}


def test_save_is_byte_for_byte_repeatable(box, busybox_image, tmp_path):
    for fmt in ("docker-archive", "oci-archive"):
        a, b = tmp_path / f"a-{fmt}.tar", tmp_path / f"b-{fmt}.tar"
        box.run("save", "--format", fmt, "-o", str(a), "busybox")
        box.run("save", "--format", fmt, "-o", str(b), "busybox")
        assert a.read_bytes() == b.read_bytes()


def test_save_to_stdout_and_load_from_stdin(box, busybox_image):
    data = subprocess.run([*box_cmd(box), "save", "busybox:latest"], capture_output=True,
                          check=True).stdout
    box.run("rmi", "busybox:latest")
    out = box.run("load", input_bytes=data)
    assert out.stdout == "Loaded image: busybox:latest\n"
    assert inspect(box, "busybox")["Id"] == busybox_image


def box_cmd(box):
    from conftest import BOX_BIN
    return [BOX_BIN, "--root", str(box.root)]


def test_several_images_and_tags_in_one_archive(box, busybox_image, tmp_path):
    # a second image with two layers' worth of difference: a different rootfs
    other = io.BytesIO()
    with tarfile.open(fileobj=other, mode="w") as t:
        info = tarfile.TarInfo("hello.txt")
        info.size = 6
        t.addfile(info, io.BytesIO(b"hello\n"))
    src = tmp_path / "other.tar"
    src.write_bytes(other.getvalue())
    box.run("image", "import", "-q", str(src), "other:1")
    box.run("tag", "busybox", "localhost:5000/team/bb:v2")
    for fmt in ("docker-archive", "oci-archive"):
        archive = tmp_path / f"all-{fmt}.tar"
        box.run("save", "--format", fmt, "-o", str(archive),
                "busybox:latest", "localhost:5000/team/bb:v2", "other:1")
        ids = {ref: inspect(box, ref)["Id"] for ref in ("busybox", "other:1")}
        for ref in ("busybox:latest", "localhost:5000/team/bb:v2", "other:1"):
            box.run("rmi", "-f", ref)
        assert box.run("images", "-q").stdout.strip() == ""
        out = box.run("load", "-i", str(archive)).stdout.splitlines()
        assert sorted(out) == ["Loaded image: busybox:latest",
                               "Loaded image: localhost:5000/team/bb:v2",
                               "Loaded image: other:1"]
        assert inspect(box, "localhost:5000/team/bb:v2")["Id"] == ids["busybox"]
        assert inspect(box, "other:1")["Id"] == ids["other:1"]


def test_save_by_id_carries_no_name(box, busybox_image, tmp_path):
    archive = tmp_path / "byid.tar"
    box.run("save", "-o", str(archive), busybox_image[7:19])
    assert json.loads(read_member(archive, "manifest.json"))[0]["RepoTags"] is None
    box.run("rmi", "busybox")
    out = box.run("load", "-i", str(archive))
    assert out.stdout == f"Loaded image ID: {busybox_image}\n"


def test_save_unknown_image_fails_and_writes_nothing(box, busybox_image, tmp_path):
    target = tmp_path / "nothing.tar"
    r = box.run("save", "-o", str(target), "busybox", "no-such-image", check=False)
    assert r.returncode != 0
    assert "no-such-image" in r.stderr
    assert list(tmp_path.glob("nothing.tar*")) == []


@pytest.mark.skipif(not SKOPEO, reason="skopeo not installed")
def test_skopeo_reads_box_archives(box, busybox_image, tmp_path):
    image = inspect(box, "busybox")
    docker = tmp_path / "d.tar"
    oci = tmp_path / "o.tar"
    box.run("save", "-o", str(docker), "busybox")
    box.run("save", "--format", "oci-archive", "-o", str(oci), "busybox")
    d = json.loads(subprocess.run([SKOPEO, "inspect", f"docker-archive:{docker}"],
                                  capture_output=True, text=True, check=True).stdout)
    assert d["Layers"] == image["RootFS"]["Layers"]
    assert d["Architecture"] == image["Architecture"]
    o = json.loads(subprocess.run([SKOPEO, "inspect", f"oci-archive:{oci}"],
                                  capture_output=True, text=True, check=True).stdout)
    index = json.loads(read_member(oci, "index.json"))
    assert o["Digest"] == index["manifests"][0]["digest"]
    config = json.loads(subprocess.run([SKOPEO, "inspect", "--config", f"oci-archive:{oci}"],
                                       capture_output=True, text=True, check=True).stdout)
    assert config["rootfs"]["diff_ids"] == image["RootFS"]["Layers"]


@pytest.mark.skipif(not SKOPEO, reason="skopeo not installed")
def test_archives_written_by_skopeo_load(box, busybox_image, tmp_path):
    oci = tmp_path / "o.tar"
    box.run("save", "--format", "oci-archive", "-o", str(oci), "busybox")
    docker = tmp_path / "skopeo-docker.tar"
    subprocess.run([SKOPEO, "copy", "-q", f"oci-archive:{oci}",
                    f"docker-archive:{docker}:skopeo/made:v1"], check=True)
    skopeo_oci = tmp_path / "skopeo-oci.tar"
    subprocess.run([SKOPEO, "copy", "-q", f"oci-archive:{oci}",
                    f"oci-archive:{skopeo_oci}:made:v2"], check=True)
    box.run("rmi", "busybox")
    out = box.run("load", "-i", str(docker))
    assert out.stdout == "Loaded image: skopeo/made:v1\n"
    assert inspect(box, "skopeo/made:v1")["Id"] == busybox_image
    out = box.run("load", "-i", str(skopeo_oci))
    assert out.stdout == "Loaded image: made:v2\n"
    assert inspect(box, "made:v2")["RootFS"] == inspect(box, "skopeo/made:v1")["RootFS"]


def rewrite_archive(src, dst, change):
    """Copies a tar, passing each member's bytes through change(name, data)."""
    with tarfile.open(src) as s, tarfile.open(dst, "w") as d:
        for m in s.getmembers():
            data = s.extractfile(m).read() if m.isfile() else None
            if data is not None:
                data = change(m.name, data)
                m.size = len(data)
                d.addfile(m, io.BytesIO(data))
            else:
                d.addfile(m)


def test_corrupt_docker_archive_layer_is_rejected_and_leaves_nothing(box, busybox_image,
                                                                     tmp_path):
    archive = tmp_path / "d.tar"
    box.run("save", "-o", str(archive), "busybox")
    box.run("rmi", "busybox")
    bad = tmp_path / "bad.tar"

    def change(name, data):
        if name.endswith(".tar"):
            # same size, one byte of file content changed: a different diff id
            i = data.index(b"root:x:0:0")
            return data[:i] + b"ROOT" + data[i + 4:]
        return data
    rewrite_archive(archive, bad, change)
    r = box.run("load", "-i", str(bad), check=False)
    assert r.returncode != 0
    assert "has diff id" in r.stderr and "the config says" in r.stderr
    assert box.run("images", "-q").stdout.strip() == ""
    assert blob_count(box) == 0
    assert layer_dirs(box) == []


def test_corrupt_oci_blob_is_rejected(box, busybox_image, tmp_path):
    archive = tmp_path / "o.tar"
    box.run("save", "--format", "oci-archive", "-o", str(archive), "busybox")
    box.run("rmi", "busybox")
    config_hex = busybox_image.split(":")[1]
    bad = tmp_path / "bad.tar"
    rewrite_archive(archive, bad, lambda name, data: data.replace(b"amd64", b"AMD64")
                    if name.endswith(config_hex) else data)
    r = box.run("load", "-i", str(bad), check=False)
    assert r.returncode != 0
    assert config_hex in r.stderr
    assert box.run("images", "-q").stdout.strip() == ""
    assert blob_count(box) == 0


def test_not_an_image_archive(box, tmp_path):
    plain = tmp_path / "plain.tar"
    plain.write_bytes(busybox_rootfs_tar())
    r = box.run("load", "-i", str(plain), check=False)
    assert r.returncode != 0
    assert "neither a docker-archive (manifest.json) nor an oci-archive" in r.stderr
    assert blob_count(box) == 0
    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"\x00not a tar" * 200)
    r = box.run("load", "-i", str(garbage), check=False)
    assert r.returncode != 0 and r.stderr.startswith("box: load ")


def test_load_refuses_a_terminal_and_missing_file(box, tmp_path):
    r = box.run("load", "-i", str(tmp_path / "missing.tar"), check=False)
    assert r.returncode != 0
    assert "missing.tar" in r.stderr


def test_pull_save_load_push_keeps_every_digest(box, registry, busybox_layout, tmp_path):
    registry.skopeo_copy(busybox_layout.path, "busybox:2", tag="2")
    _, original = registry.manifest("busybox", "2")
    ref = f"{registry.host}/busybox:2"
    box.run("pull", ref)
    pulled = inspect(box, ref)
    formats = ("docker-archive", "oci-archive")
    for fmt in formats:  # both from the pulled image
        box.run("save", "--format", fmt, "-o", str(tmp_path / f"pulled-{fmt}.tar"), ref)
    for fmt in formats:
        # the tag was the repository's last: its digest reference (the pulled image has one)
        # and the image go too
        digests = inspect(box, ref)["RepoDigests"]
        removed = box.run("rmi", "-f", ref).stdout
        assert all(f"Untagged: {d}" in removed for d in digests) and "Deleted: " in removed
        out = box.run("load", "-i", str(tmp_path / f"pulled-{fmt}.tar")).stdout
        assert out == f"Loaded image: {ref}\n"
        loaded = inspect(box, ref)
        assert loaded["Id"] == pulled["Id"]
        assert loaded["RootFS"] == pulled["RootFS"]
    # the oci-archive (loaded last) carried the pulled manifest and compressed blobs byte for
    # byte: pushing the loaded image gives the registry's original manifest digest
    assert f"digest: {original}" in box.run("push", ref).stdout


def test_loading_an_image_already_present_only_adds_its_names(box, busybox_image, tmp_path):
    archive = tmp_path / "again.tar"
    box.run("save", "-o", str(archive), "busybox")
    box.run("tag", "busybox", "keep:1")
    box.run("rmi", "busybox")  # the image stays, as keep:1
    blobs, layers = blob_count(box), layer_dirs(box)
    # a docker-archive carries uncompressed layers and no manifest: none of that is kept for
    # an image the store has, only the name is added
    assert box.run("load", "-i", str(archive)).stdout == "Loaded image: busybox:latest\n"
    assert inspect(box, "busybox")["Id"] == busybox_image
    assert blob_count(box) == blobs and layer_dirs(box) == layers


def test_rmi_of_a_repositorys_last_tag_takes_its_digests(box, registry, busybox_layout):
    """As docker: removing a tag keeps the repository's digest references while another tag
    of that repository remains, and takes them (and the image) with the last one."""
    registry.skopeo_copy(busybox_layout.path, "busybox:2", tag="2")
    _, original = registry.manifest("busybox", "2")
    ref = f"{registry.host}/busybox:2"
    box.run("pull", ref)
    box.run("tag", ref, f"{registry.host}/busybox:other")
    first = box.run("rmi", ref).stdout
    assert first == f"Untagged: {ref}\n"
    assert inspect(box, f"{registry.host}/busybox:other")["RepoDigests"] == [
        f"{registry.host}/busybox@{original}"]
    last = box.run("rmi", f"{registry.host}/busybox:other").stdout.splitlines()
    assert last[:2] == [f"Untagged: {registry.host}/busybox:other",
                        f"Untagged: {registry.host}/busybox@{original}"]
    assert last[2].startswith("Deleted: sha256:")
