"""box pull against real registries (Debian's docker-registry): open, htpasswd, token auth;
parallel layers, platform selection, resume of a dropped download, digest verification."""
import base64
import json
import os
import stat
import time
from pathlib import Path

import pytest

from registry import (USERS, CuttingProxy, RedirectingFrontend, Registry,
                      non_loopback_address)


def layer_dirs(box):
    layers = box.root / "layers"
    return [p for p in layers.iterdir() if not p.name.startswith(".")] if layers.exists() else []


def blob_exists(box, digest):
    return (box.root / "blobs/sha256" / digest.split(":", 1)[1]).is_file()


def manifest_of(layout, tag):
    index = json.loads((layout.path / "index.json").read_text())
    for m in index["manifests"]:
        if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag:
            return m
    raise KeyError(tag)


def image_layers(layout, manifest_digest):
    data = json.loads((layout.path / "blobs/sha256" / manifest_digest[7:]).read_text())
    return [layer["digest"] for layer in data["layers"]], data["config"]["digest"]


def test_pull_unpacks_verified_layers(box, registry, busybox_layout):
    registry.skopeo_copy(busybox_layout.path, "busybox:1", tag="1")
    _, registry_digest = registry.manifest("busybox", "1")
    proc = box.run("pull", f"{registry.host}/busybox:1")
    assert "Pull complete" in proc.stdout
    assert f"Digest: {registry_digest}" in proc.stdout
    assert proc.stdout.strip().endswith(f"{registry.host}/busybox:1")

    layers, config = image_layers(busybox_layout, manifest_of(busybox_layout, "1")["digest"])
    for digest in layers + [config, registry_digest]:
        assert blob_exists(box, digest), digest
    dirs = layer_dirs(box)
    assert len(dirs) == 1
    root = dirs[0]
    busybox = root / "bin/busybox"
    assert busybox.read_bytes() == Path("/bin/busybox").read_bytes()
    assert stat.S_IMODE(busybox.stat().st_mode) == 0o755
    assert os.readlink(root / "bin/sh") == "busybox"
    assert (root / "bin/ls").stat().st_ino == busybox.stat().st_ino
    assert stat.S_IMODE((root / "tmp").stat().st_mode) == 0o1777

    (info,) = box.json("image", "inspect", f"{registry.host}/busybox:1")
    assert info["Id"] == config
    assert info["RepoTags"] == [f"{registry.host}/busybox:1"]
    assert info["RepoDigests"] == [f"{registry.host}/busybox@{registry_digest}"]


def test_pull_again_skips_present_layers(box, registry, busybox_layout):
    registry.skopeo_copy(busybox_layout.path, "busybox:1", tag="1")
    box.run("pull", f"{registry.host}/busybox:1")
    again = box.run("pull", f"{registry.host}/busybox:1")
    assert "Already exists" in again.stdout
    assert "Downloading" not in again.stdout
    assert "Image is up to date" in again.stdout
    # the second image shares the first layer and fetches only its own
    registry.skopeo_copy(busybox_layout.path, "busybox:2", tag="2")
    second = box.run("pull", f"{registry.host}/busybox:2")
    assert second.stdout.count("Already exists") == 1
    assert second.stdout.count("Pull complete") == 1
    assert len(layer_dirs(box)) == 2


def test_pull_by_digest(box, registry, busybox_layout):
    registry.skopeo_copy(busybox_layout.path, "busybox:1", tag="1")
    _, digest = registry.manifest("busybox", "1")
    proc = box.run("pull", f"{registry.host}/busybox@{digest}")
    assert f"Digest: {digest}" in proc.stdout


def test_pull_missing_tag_names_it(box, registry, busybox_layout):
    registry.skopeo_copy(busybox_layout.path, "busybox:1", tag="1")
    proc = box.run("pull", f"{registry.host}/busybox:nope", check=False)
    assert proc.returncode == 125
    assert "busybox:nope" in proc.stderr
    assert "MANIFEST_UNKNOWN" in proc.stderr or "not found" in proc.stderr


def test_pull_index_picks_host_platform_or_the_asked_one(box, registry, busybox_layout,
                                                         tmp_path):
    registry.skopeo_copy(busybox_layout.path, "multi:1", tag="multi", all_platforms=True)
    box.run("pull", f"{registry.host}/multi:1")
    (host_layer,) = layer_dirs(box)
    assert (host_layer / "bin/busybox").is_file()

    from conftest import Box
    other = Box(tmp_path / "other-state")
    other.run("pull", "--platform", f"linux/{busybox_layout.foreign_arch}",
              f"{registry.host}/multi:1")
    (foreign_layer,) = layer_dirs(other)
    assert (foreign_layer / "etc/motd").read_text() == "hello from layer two\n"
    assert not (foreign_layer / "bin").exists()

    missing = other.run("pull", "--platform", "linux/s390x", f"{registry.host}/multi:1",
                        check=False)
    assert missing.returncode == 125
    assert "linux/s390x" in missing.stderr


def test_pull_basic_auth_from_login(box, registry_basic, busybox_layout):
    registry_basic.skopeo_copy(busybox_layout.path, "busybox:1", tag="1")
    anonymous = box.run("pull", f"{registry_basic.host}/busybox:1", check=False)
    assert anonymous.returncode == 125
    assert registry_basic.host in anonymous.stderr
    assert "authentication required" in anonymous.stderr

    box.run("login", registry_basic.host, "-u", "alice", "--password-stdin",
            input=USERS["alice"])
    assert "Pull complete" in box.run("pull", f"{registry_basic.host}/busybox:1").stdout


def test_pull_basic_auth_from_environment(box, registry_basic, busybox_layout):
    registry_basic.skopeo_copy(busybox_layout.path, "busybox:1", tag="1")
    env = {"BOX_REGISTRY_AUTH_HOST": registry_basic.host,
           "BOX_REGISTRY_AUTH": f"bob:{USERS['bob']}"}
    assert "Pull complete" in box.run("pull", f"{registry_basic.host}/busybox:1",
                                      env=env).stdout

    wrong = dict(env, BOX_REGISTRY_AUTH="bob:not-his-password")
    proc = box.run("pull", f"{registry_basic.host}/busybox:1", env=wrong, check=False)
    assert proc.returncode == 125
    assert registry_basic.host in proc.stderr
    assert "wrong username or password" in proc.stderr
    assert "not-his-password" not in proc.stderr + proc.stdout

    # scoped to one host: another host's variables change nothing
    other = dict(env, BOX_REGISTRY_AUTH_HOST="127.0.0.1:1")
    proc = box.run("pull", f"{registry_basic.host}/busybox:1", env=other, check=False)
    assert "authentication required" in proc.stderr


def test_pull_token_auth(box, registry_token, busybox_layout):
    registry_token.skopeo_copy(busybox_layout.path, "busybox:1", tag="1")
    registry_token.skopeo_copy(busybox_layout.path, "private/app:1", tag="2")
    server = registry_token.token_server

    anonymous = box.run("pull", f"{registry_token.host}/busybox:1", check=False)
    assert anonymous.returncode == 125
    assert registry_token.host in anonymous.stderr
    assert "denied" in anonymous.stderr

    env = {"BOX_REGISTRY_AUTH_HOST": registry_token.host,
           "BOX_REGISTRY_AUTH": f"bob:{USERS['bob']}"}
    before = len(server.requests)
    assert "Pull complete" in box.run("pull", f"{registry_token.host}/busybox:1",
                                      env=env).stdout
    # one token for the whole pull (manifest, config, layers): cached per scope
    issued = server.requests[before:]
    assert len(issued) == 1
    assert issued[0]["user"] == "bob"
    assert issued[0]["scopes"] == ["repository:busybox:pull"]

    # bob has no pull permission on private/: a clear error naming registry and repository
    denied = box.run("pull", f"{registry_token.host}/private/app:1", env=env, check=False)
    assert denied.returncode == 125
    assert registry_token.host in denied.stderr
    assert "private/app" in denied.stderr
    assert "denied" in denied.stderr
    assert USERS["bob"] not in denied.stderr

    wrong = dict(env, BOX_REGISTRY_AUTH="bob:bad")
    proc = box.run("pull", f"{registry_token.host}/busybox:1", env=wrong, check=False)
    assert "wrong username or password" in proc.stderr
    assert registry_token.host in proc.stderr

    alice = dict(env, BOX_REGISTRY_AUTH=f"alice:{USERS['alice']}")
    assert "Pull complete" in box.run("pull", f"{registry_token.host}/private/app:1",
                                      env=alice).stdout


def test_expired_token_is_replaced(box, registry_token, busybox_layout):
    registry_token.skopeo_copy(busybox_layout.path, "busybox:1", tag="1")
    server = registry_token.token_server
    server.expired_tokens_left = 1
    before = len(server.requests)
    env = {"BOX_REGISTRY_AUTH_HOST": registry_token.host,
           "BOX_REGISTRY_AUTH": f"bob:{USERS['bob']}"}
    assert "Pull complete" in box.run("pull", f"{registry_token.host}/busybox:1",
                                      env=env).stdout
    assert len(server.requests) - before == 2


def test_dropped_download_resumes(box, registry, busybox_layout):
    registry.skopeo_copy(busybox_layout.path, "busybox:1", tag="1")
    proxy = CuttingProxy(registry.port, cut_after=200_000)
    try:
        proc = box.run("pull", f"{proxy.host}/busybox:1")
    finally:
        proxy.stop()
    assert proxy.cuts == 1
    assert "Pull complete" in proc.stdout
    # resumed with a Range request, not downloaded again from the start
    layers, _ = image_layers(busybox_layout, manifest_of(busybox_layout, "1")["digest"])
    blob_size = registry.blob_path(layers[0]).stat().st_size
    assert proxy.forwarded_total < blob_size + 100_000
    (root,) = layer_dirs(box)
    assert (root / "bin/busybox").read_bytes() == Path("/bin/busybox").read_bytes()


def test_blob_redirect_is_followed_without_credentials(box, registry_basic, busybox_layout):
    registry_basic.skopeo_copy(busybox_layout.path, "busybox:1", tag="1")
    front = RedirectingFrontend(registry_basic)
    try:
        env = {"BOX_REGISTRY_AUTH_HOST": front.host,
               "BOX_REGISTRY_AUTH": f"alice:{USERS['alice']}"}
        proc = box.run("pull", f"{front.host}/busybox:1", env=env)
    finally:
        front.stop()
    assert "Pull complete" in proc.stdout
    assert front.redirects == 2  # the config and the layer
    assert len(front.blob_requests) == 2
    for headers in front.blob_requests:
        assert "Authorization" not in headers


def test_killed_pull_resumes_from_partial_blob(box, registry, busybox_layout):
    registry.skopeo_copy(busybox_layout.path, "big:1", tag="big")
    (layer,), _ = image_layers(busybox_layout, manifest_of(busybox_layout, "big")["digest"])
    blob_size = registry.blob_path(layer).stat().st_size
    partial = box.root / "blobs/sha256" / (".partial-" + layer.split(":", 1)[1])

    stalling = CuttingProxy(registry.port, stall_after=3 << 20)
    proc = box.popen("pull", f"{stalling.host}/big:1")
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            if partial.exists() and partial.stat().st_size >= 1 << 20:
                break
            time.sleep(0.05)
        proc.kill()
        proc.wait()
    finally:
        stalling.stop()
    kept = partial.stat().st_size
    assert kept >= 1 << 20

    counting = CuttingProxy(registry.port)
    try:
        out = box.run("pull", f"{counting.host}/big:1")
    finally:
        counting.stop()
    assert "Pull complete" in out.stdout
    # only the missing part crossed the wire again
    assert counting.forwarded_total < blob_size - kept + 100_000
    assert not partial.exists()
    assert blob_exists(box, layer)


def test_unavailable_registry_is_retried(box, registry, busybox_layout):
    registry.skopeo_copy(busybox_layout.path, "busybox:1", tag="1")
    proxy = CuttingProxy(registry.port, unavailable_first=2)
    try:
        proc = box.run("pull", f"{proxy.host}/busybox:1")
    finally:
        proxy.stop()
    assert proxy.unavailable_sent == 2
    assert "Pull complete" in proc.stdout


def test_digest_mismatch_is_rejected_and_leaves_nothing(box, registry, busybox_layout):
    registry.skopeo_copy(busybox_layout.path, "busybox:1", tag="1")
    layers, _ = image_layers(busybox_layout, manifest_of(busybox_layout, "1")["digest"])
    blob = registry.blob_path(layers[0])
    data = bytearray(blob.read_bytes())
    # the gzip header's mtime: the content still decompresses to the same tar, only the
    # digest of the compressed bytes differs
    data[4] ^= 0xFF
    blob.write_bytes(bytes(data))
    proc = box.run("pull", f"{registry.host}/busybox:1", check=False)
    assert proc.returncode == 125
    assert layers[0] in proc.stderr
    assert "digest" in proc.stderr
    assert layer_dirs(box) == []
    assert not blob_exists(box, layers[0])
    leftovers = [p.name for p in (box.root / "blobs/sha256").iterdir()
                 if p.name.startswith(".")]
    assert leftovers == []


def test_pull_plain_http_only_for_loopback_or_insecure(box, tmp_path, busybox_layout,
                                                       docker_config):
    """A registry that is not on loopback is spoken to over HTTPS unless registries.json
    lists it as insecure."""
    address = non_loopback_address()
    if not address:
        pytest.skip("this machine has no non-loopback IPv4 address")
    reg = Registry(tmp_path / "registry-lan", bind="0.0.0.0")
    try:
        reg.skopeo_copy(busybox_layout.path, "busybox:1", tag="1")
        host = f"{address}:{reg.port}"
        proc = box.run("pull", f"{host}/busybox:1", check=False)
        assert proc.returncode == 125
        assert f"https://{host}" in proc.stderr
        box.root.mkdir(parents=True, exist_ok=True)
        (box.root / "registries.json").write_text(json.dumps({"insecure-registries": [host]}))
        assert "Pull complete" in box.run("pull", f"{host}/busybox:1").stdout
    finally:
        reg.stop()


def test_docker_hub_mirror(box, registry, busybox_layout):
    """registry-mirrors serve docker.io references (no other registry is reachable here)."""
    registry.skopeo_copy(busybox_layout.path, "library/busybox:1", tag="1")
    box.root.mkdir(parents=True, exist_ok=True)
    (box.root / "registries.json").write_text(
        json.dumps({"registry-mirrors": [f"http://{registry.host}"]}))
    proc = box.run("pull", "busybox:1")
    assert "Pull complete" in proc.stdout


def test_pull_with_identity_token(box, registry_token, busybox_layout, docker_config, tmp_path,
                                  monkeypatch):
    """An identity token (config.json `identitytoken`, or a credential helper answering with
    Username "<token>") is exchanged at the token server with the OAuth2 refresh-token grant:
    POSTed, never in a URL, never sent to the registry; a refused one is a clear error."""
    from registry import IDENTITY_TOKENS
    registry_token.skopeo_copy(busybox_layout.path, "busybox:1", tag="1")
    server = registry_token.token_server
    token = next(iter(IDENTITY_TOKENS))
    docker_config.parent.mkdir(parents=True, exist_ok=True)
    docker_config.write_text(json.dumps({"auths": {registry_token.host: {
        "auth": base64.b64encode(b"bob:").decode(), "identitytoken": token}}}))
    before = len(server.requests)
    assert "Pull complete" in box.run("pull", f"{registry_token.host}/busybox:1").stdout
    issued = server.requests[before:]
    assert issued and all(r["grant"] == "refresh_token" and r["user"] == "bob" for r in issued)

    # the same through a credential helper
    helper_dir = tmp_path / "helper-bin"
    helper_dir.mkdir()
    helper = helper_dir / "docker-credential-tokentest"
    helper.write_text("#!/bin/sh\n"
                      "[ \"$1\" = get ] || exit 1\n"
                      f"echo '{{\"Username\":\"<token>\",\"Secret\":\"{token}\"}}'\n")
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{helper_dir}:{os.environ['PATH']}")
    docker_config.write_text(json.dumps({"credsStore": "tokentest"}))
    box.run("rmi", f"{registry_token.host}/busybox:1")
    before = len(server.requests)
    assert "Pull complete" in box.run("pull", f"{registry_token.host}/busybox:1").stdout
    assert all(r["grant"] == "refresh_token" for r in server.requests[before:])

    # a revoked token: refused, named, and not shown
    docker_config.write_text(json.dumps({"auths": {registry_token.host: {
        "identitytoken": "revoked-0000"}}}))
    box.run("rmi", f"{registry_token.host}/busybox:1")
    proc = box.run("pull", f"{registry_token.host}/busybox:1", check=False)
    assert proc.returncode == 125
    assert registry_token.host in proc.stderr and "identity token" in proc.stderr
    assert "revoked-0000" not in proc.stderr
