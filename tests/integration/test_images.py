"""Images from the CLI: import (gzip, zstd, plain, stdin, --change), images/image ls with
filters, image inspect, tag, rmi / image rm (with boxes holding images), image prune, and
what interrupted or failed writes leave behind."""
import gzip
import hashlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from rootfs import busybox_rootfs_tar

HEX = set("0123456789abcdef")


def staging_entries(root: Path):
    out = []
    for sub in ("blobs/sha256", "layers"):
        d = root / sub
        if d.exists():
            out += [f"{sub}/{n}" for n in os.listdir(d) if n.startswith(".tmp-")]
    return out


def blobs(root: Path):
    d = root / "blobs/sha256"
    return sorted(os.listdir(d)) if d.exists() else []


def layers(root: Path):
    d = root / "layers"
    return sorted(os.listdir(d)) if d.exists() else []


def image_rows(box, *args):
    lines = box.run("images", *args).stdout.splitlines()
    return [line.split()[:3] for line in lines[1:]]


@pytest.fixture(scope="module")
def rootfs_tar():
    return busybox_rootfs_tar()


def test_import_gzip_records_a_verified_one_layer_image(box, busybox_tarball, rootfs_tar):
    out = box.run("image", "import", str(busybox_tarball), "busybox")
    image_id = out.stdout.strip()
    assert image_id.startswith("sha256:") and len(image_id) == 71
    assert "import: " in out.stderr  # progress as plain lines on a pipe

    [info] = box.json("image", "inspect", "busybox")
    assert info["Id"] == image_id
    assert info["RepoTags"] == ["busybox:latest"]
    assert info["RootFS"]["Type"] == "layers"
    # the diff id is the sha256 of the uncompressed tar
    assert info["RootFS"]["Layers"] == ["sha256:" + hashlib.sha256(rootfs_tar).hexdigest()]
    assert info["Os"] == "linux" and info["Architecture"]
    assert info["Size"] > 500_000
    assert info["Created"].endswith("Z")

    # the id is the digest of the config blob, which the content store holds verbatim
    config_blob = box.root / "blobs/sha256" / image_id[7:]
    assert hashlib.sha256(config_blob.read_bytes()).hexdigest() == image_id[7:]
    # the compressed tarball is kept as the layer blob
    assert hashlib.sha256(busybox_tarball.read_bytes()).hexdigest() in blobs(box.root)

    # the unpacked layer: busybox, applet symlinks, passwd
    [layer] = layers(box.root)
    layer_dir = box.root / "layers" / layer
    assert (layer_dir / "bin/busybox").stat().st_size == Path("/bin/busybox").stat().st_size
    assert os.readlink(layer_dir / "bin/sh") == "busybox"
    assert (layer_dir / "etc/passwd").read_text().startswith("root:x:0:0")
    assert staging_entries(box.root) == []

    assert image_rows(box) == [["busybox", "latest", image_id[7:19]]]


def test_import_plain_zstd_and_stdin_give_the_same_layer(box, tmp_path, rootfs_tar):
    plain = tmp_path / "rootfs.tar"
    plain.write_bytes(rootfs_tar)
    zst = tmp_path / "rootfs.tar.zst"
    subprocess.run(["zstd", "-q", "-3", str(plain), "-o", str(zst)], check=True)

    box.run("image", "import", str(plain), "plain:1")
    box.run("image", "import", str(zst), "zstd:1")
    box.run("image", "import", "-", "stdin:1", input_bytes=gzip.compress(rootfs_tar))
    diff_ids = {box.json("image", "inspect", ref)[0]["RootFS"]["Layers"][0]
                for ref in ("plain:1", "zstd:1", "stdin:1")}
    assert diff_ids == {"sha256:" + hashlib.sha256(rootfs_tar).hexdigest()}
    # one unpacked layer shared by the three images
    assert len(layers(box.root)) == 1
    [info] = box.json("image", "inspect", "stdin:1")
    assert info["History"][0]["comment"] == "Imported from -"


def test_import_changes_become_the_config(box, busybox_tarball):
    box.run("image", "import", "-q",
            "-c", 'CMD ["/bin/sh", "-c", "echo hi"]',
            "--change", "ENTRYPOINT /bin/env",
            "-c", "ENV A=1 B=\"two words\"",
            "-c", "WORKDIR /srv",
            "-c", "USER nobody",
            "-c", "EXPOSE 80 53/udp",
            "-c", "LABEL org.example.team=images stage=test",
            "-c", "VOLUME /data",
            "-c", "STOPSIGNAL SIGQUIT",
            "-m", "made for a test",
            str(busybox_tarball), "localhost:5000/team/app:v1")
    [info] = box.json("image", "inspect", "localhost:5000/team/app:v1")
    config = info["Config"]
    assert config["Cmd"] == ["/bin/sh", "-c", "echo hi"]
    assert config["Entrypoint"] == ["/bin/sh", "-c", "/bin/env"]
    assert config["Env"] == ["A=1", "B=two words"]
    assert config["WorkingDir"] == "/srv"
    assert config["User"] == "nobody"
    assert config["ExposedPorts"] == {"80/tcp": {}, "53/udp": {}}
    assert config["Labels"] == {"org.example.team": "images", "stage": "test"}
    assert config["Volumes"] == {"/data": {}}
    assert config["StopSignal"] == "SIGQUIT"
    assert info["Comment"] == "made for a test"
    assert info["RepoTags"] == ["localhost:5000/team/app:v1"]


@pytest.mark.parametrize("change, message", [
    ("RUN make", "RUN is not one of"),
    ("EXPOSE 99999", "PORT"),
    ("ENV =x", "not key=value"),
])
def test_import_rejects_bad_changes_before_reading(box, busybox_tarball, change, message):
    r = box.run("image", "import", "-c", change, str(busybox_tarball), "x", check=False)
    assert r.returncode == 125
    assert message in r.stderr
    assert blobs(box.root) == [] and layers(box.root) == []


@pytest.mark.parametrize("ref, message", [
    ("Busybox", "must be lowercase"),
    ("busybox@sha256:" + "0" * 64, "digest"),
    ("a" * 64, "image id"),
    ("busybox:bad/tag", "registry host"),
])
def test_import_rejects_invalid_references(box, busybox_tarball, ref, message):
    r = box.run("image", "import", str(busybox_tarball), ref, check=False)
    assert r.returncode == 125
    assert message in r.stderr
    assert "invalid reference" in r.stderr or "digest" in r.stderr


def test_corrupt_tarball_leaves_nothing(box, tmp_path, busybox_tarball):
    data = bytearray(busybox_tarball.read_bytes())
    data[len(data) // 2] ^= 0xFF  # a bit flip inside the deflate stream
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(bytes(data))
    r = box.run("image", "import", str(bad), "bad", check=False)
    assert r.returncode == 125
    assert r.stderr.startswith("box: import ")
    assert staging_entries(box.root) == []
    assert layers(box.root) == []
    assert blobs(box.root) == []
    assert image_rows(box) == []

    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(busybox_tarball.read_bytes()[:100_000])
    r = box.run("image", "import", str(truncated), "bad", check=False)
    assert r.returncode == 125
    assert staging_entries(box.root) == [] and layers(box.root) == [] and blobs(box.root) == []


def test_killed_import_is_cleaned_on_next_open(box, box_bin, rootfs_tar):
    box.run("images")  # create the state directory
    proc = subprocess.Popen([box_bin, "--root", str(box.root), "image", "import", "-q", "-", "half"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdin.write(rootfs_tar[: len(rootfs_tar) // 2])
    proc.stdin.flush()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        entries = staging_entries(box.root)
        if any(e.startswith("layers/") for e in entries) and any(
                e.startswith("blobs/") for e in entries):
            break
        time.sleep(0.02)
    # let the half that was written reach the layer directory
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdin.close()
    proc.stdout.close()
    proc.stderr.close()
    left = staging_entries(box.root)
    assert any(e.startswith("layers/") for e in left), left
    assert any(e.startswith("blobs/") for e in left), left

    # the next engine open removes what the dead writer left, and no image appeared
    assert image_rows(box) == []
    assert staging_entries(box.root) == []
    assert layers(box.root) == []


def test_tag_and_rmi(box, busybox_image):
    box.run("tag", "busybox", "localhost:5000/mirror/busybox:1.36")
    box.run("image", "tag", busybox_image, "extra")
    rows = image_rows(box)
    assert sorted(r[0] + ":" + r[1] for r in rows) == [
        "busybox:latest", "extra:latest", "localhost:5000/mirror/busybox:1.36"]
    assert {r[2] for r in rows} == {busybox_image[7:19]}

    # by id with names in several repositories: refused without force
    r = box.run("rmi", busybox_image[7:19], check=False)
    assert r.returncode == 125
    assert "multiple repositories" in r.stderr

    # a name of several: only the name goes
    r = box.run("rmi", "extra")
    assert r.stdout == "Untagged: extra:latest\n"
    r = box.run("image", "rm", "localhost:5000/mirror/busybox:1.36")
    assert r.stdout == "Untagged: localhost:5000/mirror/busybox:1.36\n"
    assert len(blobs(box.root)) == 3  # layer, config, manifest

    # the last name: the image, its blobs and its layer go
    r = box.run("rmi", "busybox")
    assert r.stdout == f"Untagged: busybox:latest\nDeleted: {busybox_image}\n"
    assert blobs(box.root) == [] and layers(box.root) == []
    assert image_rows(box) == []

    r = box.run("rmi", "busybox", check=False)
    assert r.returncode == 125 and "no such image: busybox" in r.stderr


def test_rmi_refuses_an_image_a_box_uses(box, busybox_image):
    box.run("create", "--name", "holder", "busybox", "true")
    r = box.run("rmi", "busybox", check=False)
    assert r.returncode == 125
    assert "conflict" in r.stderr and "is using its referenced image" in r.stderr
    r = box.run("rmi", busybox_image, check=False)
    assert r.returncode == 125 and "being used by box" in r.stderr
    # prune -a never takes an image a box uses
    r = box.run("image", "prune", "-a", "-f")
    assert "Deleted" not in r.stdout
    assert image_rows(box) == [["busybox", "latest", busybox_image[7:19]]]
    box.run("rm", "holder")
    r = box.run("rmi", "busybox")
    assert f"Deleted: {busybox_image}" in r.stdout


def test_forced_rmi_of_an_image_in_use_keeps_it_dangling(box, busybox_image):
    box.run("create", "--name", "holder", busybox_image, "true")
    r = box.run("rmi", "-f", "busybox")
    assert r.stdout == "Untagged: busybox:latest\n"
    assert image_rows(box) == [["<none>", "<none>", busybox_image[7:19]]]
    assert len(layers(box.root)) == 1
    box.run("rm", "holder")
    r = box.run("image", "prune", "-f")
    assert r.stdout.startswith(f"Deleted Images:\ndeleted: {busybox_image}\n")
    assert "Total reclaimed space: " in r.stdout
    assert blobs(box.root) == [] and layers(box.root) == []


def test_prune_takes_dangling_images_only_unless_all(box, busybox_tarball, rootfs_tar):
    tagged = box.run("image", "import", "-q", "-c", "LABEL keep=yes", str(busybox_tarball),
                     "kept").stdout.strip()
    dangling = box.run("image", "import", "-q", "-c", "LABEL keep=no", "-",
                       input_bytes=rootfs_tar).stdout.strip()
    assert box.run("images", "-q", "--filter", "dangling=true").stdout.split() == [dangling[7:19]]
    assert box.run("images", "-q", "-f", "dangling=false").stdout.split() == [tagged[7:19]]
    assert box.run("images", "-q", "-f", "label=keep=yes").stdout.split() == [tagged[7:19]]
    assert box.run("images", "-q", "-f", "reference=ke*").stdout.split() == [tagged[7:19]]
    assert box.run("images", "-q", "kept").stdout.split() == [tagged[7:19]]
    assert box.run("images", "-q", "--no-trunc", "kept").stdout.split() == [tagged]

    r = box.run("image", "prune", "-f")
    assert f"deleted: {dangling}" in r.stdout and tagged not in r.stdout
    assert box.run("images", "-q").stdout.split() == [tagged[7:19]]
    # the layer is shared by both images: still there for the tagged one
    assert len(layers(box.root)) == 1

    r = box.run("image", "prune", "-a", "-f")
    assert "untagged: kept:latest" in r.stdout and f"deleted: {tagged}" in r.stdout
    assert blobs(box.root) == [] and layers(box.root) == []


def test_prune_asks_before_removing(box, busybox_tarball):
    box.run("image", "import", "-q", str(busybox_tarball))
    r = box.run("image", "prune", input="n\n")
    assert "Are you sure you want to continue?" in r.stdout
    assert len(image_rows(box)) == 1
    box.run("image", "prune", input="y\n")
    assert image_rows(box) == []


def test_inspect_resolves_every_reference_form(box, busybox_image):
    hex_id = busybox_image[7:]
    for ref in ("busybox", "busybox:latest", "docker.io/library/busybox:latest", busybox_image,
                hex_id, hex_id[:12], "sha256:" + hex_id[:5]):
        [info] = box.json("image", "inspect", ref)
        assert info["Id"] == busybox_image, ref
    r = box.run("image", "inspect", "busybox", "nothing", check=False)
    assert r.returncode == 125
    assert "no such image: nothing" in r.stderr
    assert [i["Id"] for i in json.loads(r.stdout)] == [busybox_image]


def test_image_group_help_and_unknown_subcommand(box):
    r = box.run("image", "--help")
    for sub in ("import", "inspect", "ls", "prune", "rm", "tag"):
        assert f"  {sub} " in r.stdout
    r = box.run("image", "import", "--help")
    assert r.stdout.startswith("Usage: box image import")
    r = box.run("image", "frobnicate", check=False)
    assert r.returncode == 125 and "is not a box command" in r.stderr


def test_concurrent_imports_of_the_same_content_share_one_layer(box, box_bin, busybox_tarball):
    box.run("images")
    procs = [subprocess.Popen([box_bin, "--root", str(box.root), "image", "import", "-q",
                               str(busybox_tarball), f"same:{i}"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(4)]
    results = [p.communicate(timeout=120) + (p.returncode,) for p in procs]
    assert all(rc == 0 for _, _, rc in results), results
    # each import writes its own config (its own creation time), over one shared layer
    assert len(layers(box.root)) == 1
    assert sorted(r[0] + ":" + r[1] for r in image_rows(box)) == [
        f"same:{i}" for i in range(4)]
    assert staging_entries(box.root) == []
    # removing three leaves the fourth intact
    for i in range(3):
        box.run("rmi", f"same:{i}")
    [layer] = layers(box.root)
    assert (box.root / "layers" / layer / "bin/busybox").exists()
    assert box.json("image", "inspect", "same:3")[0]["RepoTags"] == ["same:3"]


@pytest.mark.parametrize("entry", ["../escape", "/abs/../../escape", "bin/../../escape"])
def test_hostile_tarball_is_rejected_and_leaves_nothing(box, tmp_path, entry):
    import io
    import tarfile
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        ok = tarfile.TarInfo("bin")
        ok.type = tarfile.DIRTYPE
        tar.addfile(ok)
        bad = tarfile.TarInfo(entry)
        data = b"owned\n"
        bad.size = len(data)
        tar.addfile(bad, io.BytesIO(data))
    path = tmp_path / "hostile.tar"
    path.write_bytes(buf.getvalue())
    r = box.run("image", "import", str(path), "hostile", check=False)
    assert r.returncode == 125
    assert "import " in r.stderr and ".." in r.stderr
    assert staging_entries(box.root) == []
    assert layers(box.root) == [] and blobs(box.root) == []
    assert image_rows(box) == []
    assert not (box.root / "escape").exists() and not (tmp_path / "escape").exists()


def test_import_progress_redraws_one_line_on_a_terminal(box, box_bin, busybox_tarball):
    import pty
    master, slave = pty.openpty()
    proc = subprocess.Popen([box_bin, "--root", str(box.root), "image", "import",
                             str(busybox_tarball), "tty"],
                            stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    out, _ = proc.communicate(timeout=120)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    shown = b"".join(chunks).decode()
    assert proc.returncode == 0
    assert out.decode().startswith("sha256:")
    assert "\r\x1b[KImporting: " in shown and "(100%)" in shown
    assert "import: " not in shown  # the plain-line form is for pipes


def test_images_format_json(box, busybox_image):
    box.run("tag", "busybox", "localhost:5000/team/busybox:v1")
    lines = box.run("images", "--format", "json").stdout.splitlines()
    rows = sorted((json.loads(line) for line in lines), key=lambda r: r["Repository"])
    assert [(r["Repository"], r["Tag"], r["ID"]) for r in rows] == [
        ("busybox", "latest", busybox_image[7:19]),
        ("localhost:5000/team/busybox", "v1", busybox_image[7:19])]
    assert rows[0]["Size"].endswith("MB") and rows[0]["CreatedAt"].endswith("+0000 UTC")
    r = box.run("images", "--format", "{{.ID}}", check=False)
    assert r.returncode == 125 and "only \"table\" and \"json\"" in r.stderr
