"""Registry harness: real registries for the pull/push/login tests.

Starts Debian's docker-registry (/usr/bin/docker-registry) on 127.0.0.1 (a free port, storage
in a temporary directory) three ways:

- open: no authentication;
- basic: htpasswd (bcrypt entries made with apache2-utils' `htpasswd -B`);
- token: the registry trusts a certificate whose key signs RS256 JWTs issued by TokenServer,
  a small token server run here (python3-cryptography signs).

Test images are built here from Debian's busybox-static (/bin/busybox) as OCI image layouts
and copied into the registry with skopeo, a real client, so tests that pull do not depend on
box's own push.
"""
import base64
import datetime
import gzip
import hashlib
import http.server
import io
import json
import os
import shutil
import socket
import subprocess
import tarfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

REGISTRY_BIN = "/usr/bin/docker-registry"
TOKEN_SERVICE = "box-test-registry"
TOKEN_ISSUER = "box-test-token-server"
USERS = {"alice": "wonderland", "bob": "builder"}
# OAuth2 refresh tokens ("identity tokens") the token server accepts, and whose they are
IDENTITY_TOKENS = {"refresh-bob-7f3a": "bob"}
# alice may do anything; bob may only pull, and only from repositories under "shared/" and
# "busybox"; anonymous users get nothing.
TOKEN_POLICY = {
    "alice": lambda repo, actions: actions,
    "bob": lambda repo, actions: [a for a in actions if a == "pull"
                                  and (repo == "busybox" or repo.startswith("shared/"))],
}


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenServer:
    """Issues registry bearer tokens (distribution's token spec) for USERS and TOKEN_POLICY.

    Records every request (scopes asked for, user) so tests can check caching."""

    def __init__(self, workdir: Path):
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID

        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, TOKEN_ISSUER)])
        now = datetime.datetime.utcnow()
        self.cert = (x509.CertificateBuilder()
                     .subject_name(name).issuer_name(name)
                     .public_key(self.key.public_key())
                     .serial_number(x509.random_serial_number())
                     .not_valid_before(now - datetime.timedelta(days=1))
                     .not_valid_after(now + datetime.timedelta(days=30))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                     .sign(self.key, hashes.SHA256()))
        self.cert_path = workdir / "token-cert.pem"
        self.cert_path.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        self.cert_der = self.cert.public_bytes(serialization.Encoding.DER)
        self.requests = []
        # tokens to hand out already expired (beyond the registry's 60 s leeway), as a cached
        # token looks after a long pull
        self.expired_tokens_left = 0
        self.port = free_port()
        self.realm = f"http://127.0.0.1:{self.port}/token"
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.handle(self)

            def do_POST(self):
                server.handle_refresh_grant(self)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def sign(self, claims):
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        header = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(self.cert_der).decode()]}
        signing_input = (b64url(json.dumps(header).encode()) + "."
                         + b64url(json.dumps(claims).encode()))
        signature = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return signing_input + "." + b64url(signature)

    def handle_refresh_grant(self, req):
        """The OAuth2 refresh-token grant: a form POSTed to the realm."""
        length = int(req.headers.get("Content-Length", "0"))
        form = urllib.parse.parse_qs(req.rfile.read(length).decode())
        user = IDENTITY_TOKENS.get(form.get("refresh_token", [""])[0])
        if (req.headers.get("Content-Type") != "application/x-www-form-urlencoded"
                or form.get("grant_type") != ["refresh_token"] or not user):
            self.requests.append({"user": user, "grant": "refresh_token", "refused": True})
            req.send_response(400)
            req.send_header("Content-Type", "application/json")
            req.end_headers()
            req.wfile.write(b'{"error":"invalid_grant"}')
            return
        # one space-separated scope parameter in a form
        scopes = form.get("scope", [""])[0].split(" ")
        self.issue(req, user, [s for s in scopes if s], form.get("service", [""])[0],
                   grant="refresh_token")

    def handle(self, req):
        query = urllib.parse.parse_qs(urllib.parse.urlparse(req.path).query)
        user = None
        auth = req.headers.get("Authorization")
        if auth:
            scheme, _, value = auth.partition(" ")
            name, _, password = base64.b64decode(value).decode().partition(":")
            if scheme.lower() != "basic" or USERS.get(name) != password:
                self.requests.append({"user": name, "scopes": query.get("scope", []),
                                      "refused": True})
                req.send_response(401)
                req.send_header("Content-Type", "application/json")
                req.end_headers()
                req.wfile.write(b'{"details":"invalid username or password"}')
                return
            user = name
        self.issue(req, user, query.get("scope", []), query.get("service", [""])[0])

    def issue(self, req, user, scopes, service, grant=None):
        self.requests.append({"user": user, "scopes": scopes, "refused": False, "grant": grant})
        access = []
        for scope in scopes:
            for one in scope.split(" "):
                kind, _, rest = one.partition(":")
                repo, _, actions = rest.rpartition(":")
                if kind != "repository" or not repo:
                    continue
                policy = TOKEN_POLICY.get(user)
                granted = policy(repo, actions.split(",")) if policy else []
                access.append({"type": "repository", "name": repo, "actions": granted})
        now = int(time.time())
        age = 0
        if self.expired_tokens_left > 0:
            self.expired_tokens_left -= 1
            age = 3600
        claims = {"iss": TOKEN_ISSUER, "sub": user or "", "aud": service,
                  "exp": now + 300 - age, "nbf": now - 10 - age, "iat": now - age,
                  "jti": base64.b16encode(os.urandom(8)).decode(), "access": access}
        token = self.sign(claims)
        body = json.dumps({"token": token, "access_token": token, "expires_in": 300}).encode()
        req.send_response(200)
        req.send_header("Content-Type", "application/json")
        req.send_header("Content-Length", str(len(body)))
        req.end_headers()
        req.wfile.write(body)

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class Registry:
    """One docker-registry process. `host` is "127.0.0.1:<port>"."""

    def __init__(self, workdir: Path, auth=None, bind="127.0.0.1"):
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.storage = workdir / "storage"
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.auth = auth
        self.bind = bind
        self.token_server = None
        auth_config = ""
        if auth == "basic":
            htpasswd = workdir / "htpasswd"
            lines = []
            for user, password in USERS.items():
                out = subprocess.run(["htpasswd", "-Bbn", user, password], check=True,
                                     capture_output=True, text=True).stdout.strip()
                lines.append(out)
            htpasswd.write_text("\n".join(lines) + "\n")
            auth_config = f"""auth:
  htpasswd:
    realm: box-test
    path: {htpasswd}
"""
        elif auth == "token":
            self.token_server = TokenServer(workdir)
            auth_config = f"""auth:
  token:
    realm: {self.token_server.realm}
    service: {TOKEN_SERVICE}
    issuer: {TOKEN_ISSUER}
    rootcertbundle: {self.token_server.cert_path}
"""
        config = workdir / "config.yml"
        config.write_text(f"""version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {self.storage}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: {bind}:{self.port}
{auth_config}""")
        self.log = open(workdir / "registry.log", "w")
        self.proc = subprocess.Popen([REGISTRY_BIN, "serve", str(config)], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.time() + 15
        while True:
            try:
                urllib.request.urlopen(f"http://{self.host}/v2/", timeout=1)
                break
            except urllib.error.HTTPError:
                break  # 401: up, and asking for credentials
            except OSError:
                if self.proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError("docker-registry did not start: "
                                       + (workdir / "registry.log").read_text())
                time.sleep(0.05)

    def creds(self, user="alice"):
        return f"{user}:{USERS[user]}"

    def blob_path(self, digest: str) -> Path:
        hexpart = digest.split(":", 1)[1]
        return (self.storage / "docker/registry/v2/blobs/sha256" / hexpart[:2] / hexpart
                / "data")

    def skopeo_copy(self, layout: Path, ref: str, tag="latest", all_platforms=False):
        """Copies the OCI layout's image `tag` to <host>/<ref> with skopeo."""
        cmd = ["skopeo", "copy", "--quiet", "--dest-tls-verify=false"]
        if all_platforms:
            cmd.append("--all")
        if self.auth:
            cmd += ["--dest-creds", self.creds()]
        cmd += [f"oci:{layout}:{tag}", f"docker://{self.host}/{ref}"]
        subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=120)

    def manifest(self, ref: str, tag: str, accept=None):
        """GETs a manifest anonymously (open registries only): (body bytes, digest header)."""
        req = urllib.request.Request(f"http://{self.host}/v2/{ref}/manifests/{tag}")
        req.add_header("Accept", accept or ", ".join([
            "application/vnd.oci.image.index.v1+json",
            "application/vnd.oci.image.manifest.v1+json",
            "application/vnd.docker.distribution.manifest.list.v2+json",
            "application/vnd.docker.distribution.manifest.v2+json"]))
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.read(), resp.headers.get("Docker-Content-Digest")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        if self.token_server:
            self.token_server.stop()


# ------------------------------------------------------------------------------------------
# Test images
# ------------------------------------------------------------------------------------------

def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def host_architecture():
    machine = os.uname().machine
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}.get(
        machine, machine)


def tar_layer(entries):
    """entries: list of (name, kind, payload, mode) with kind file|dir|symlink|hardlink."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, payload, mode in entries:
            info = tarfile.TarInfo(name)
            info.mtime = 1700000000
            info.mode = mode
            if kind == "dir":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif kind == "symlink":
                info.type = tarfile.SYMTYPE
                info.linkname = payload
                tar.addfile(info)
            elif kind == "hardlink":
                info.type = tarfile.LNKTYPE
                info.linkname = payload
                tar.addfile(info)
            else:
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
    return buf.getvalue()


def busybox_layer_tar():
    busybox = Path("/bin/busybox").read_bytes()
    return tar_layer([
        ("bin", "dir", None, 0o755),
        ("bin/busybox", "file", busybox, 0o755),
        ("bin/sh", "symlink", "busybox", 0o777),
        ("bin/ls", "hardlink", "bin/busybox", 0o755),
        ("etc", "dir", None, 0o755),
        ("etc/passwd", "file", b"root:x:0:0:root:/root:/bin/sh\n", 0o644),
        ("tmp", "dir", None, 0o1777),
    ])


class OciLayout:
    """Writes an OCI image layout (blobs/sha256, index.json, oci-layout)."""

    def __init__(self, path: Path):
        self.path = path
        (path / "blobs/sha256").mkdir(parents=True, exist_ok=True)
        (path / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
        self.index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                      "manifests": []}

    def blob(self, data: bytes) -> str:
        digest = "sha256:" + sha256_hex(data)
        (self.path / "blobs/sha256" / digest[7:]).write_bytes(data)
        return digest

    def image(self, layers_tar, arch=None, cmd=("/bin/sh",), labels=None):
        """Adds an image made of the given uncompressed layer tars; returns its manifest
        descriptor."""
        layer_descs, diff_ids = [], []
        for tar in layers_tar:
            gz = gzip.compress(tar, compresslevel=6, mtime=0)
            layer_descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                                "digest": self.blob(gz), "size": len(gz)})
            diff_ids.append("sha256:" + sha256_hex(tar))
        config = {"architecture": arch or host_architecture(), "os": "linux",
                  "created": "2024-01-01T00:00:00Z",
                  "config": {"Cmd": list(cmd), "Env": ["PATH=/bin"],
                             "Labels": labels or {}},
                  "rootfs": {"type": "layers", "diff_ids": diff_ids},
                  "history": [{"created": "2024-01-01T00:00:00Z", "created_by": "box tests"}
                              for _ in layers_tar]}
        config_bytes = json.dumps(config, sort_keys=True).encode()
        manifest = {"schemaVersion": 2,
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                               "digest": self.blob(config_bytes), "size": len(config_bytes)},
                    "layers": layer_descs}
        manifest_bytes = json.dumps(manifest, sort_keys=True).encode()
        return {"mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": self.blob(manifest_bytes), "size": len(manifest_bytes),
                "platform": {"architecture": config["architecture"], "os": "linux"}}

    def tag(self, descriptor, tag):
        entry = dict(descriptor)
        entry["annotations"] = {"org.opencontainers.image.ref.name": tag}
        self.index["manifests"].append(entry)
        (self.path / "index.json").write_text(json.dumps(self.index))

    def platform_index(self, descriptors):
        """An image index over several manifests; returns its descriptor."""
        index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                 "manifests": descriptors}
        data = json.dumps(index, sort_keys=True).encode()
        return {"mediaType": "application/vnd.oci.image.index.v1+json",
                "digest": self.blob(data), "size": len(data)}


@pytest.fixture(scope="session")
def busybox_layout(tmp_path_factory):
    """An OCI layout with tags: "1" (busybox, one layer), "2" (busybox + a second layer),
    "multi" (an index: this host's architecture and one other), "big" (one 4 MiB layer of
    random bytes)."""
    layout = OciLayout(tmp_path_factory.mktemp("busybox-layout"))
    base = busybox_layer_tar()
    one = layout.image([base])
    layout.tag(one, "1")
    extra = tar_layer([("etc", "dir", None, 0o755),
                       ("etc/motd", "file", b"hello from layer two\n", 0o644)])
    layout.tag(layout.image([base, extra], labels={"layers": "2"}), "2")
    other_arch = "arm64" if host_architecture() != "arm64" else "amd64"
    foreign = layout.image([extra], arch=other_arch, labels={"arch": other_arch})
    layout.tag(layout.platform_index([one, foreign]), "multi")
    # 4 MiB that gzip cannot shrink: a layer big enough to be interrupted halfway
    noise = tar_layer([("noise", "file", os.urandom(4 << 20), 0o644)])
    layout.tag(layout.image([noise]), "big")
    layout.foreign_arch = other_arch
    return layout


@pytest.fixture
def docker_config(tmp_path, monkeypatch):
    """Points DOCKER_CONFIG at a fresh directory so tests never read or write the machine's
    own docker credentials; returns the config.json path."""
    directory = tmp_path / "docker-config"
    monkeypatch.setenv("DOCKER_CONFIG", str(directory))
    monkeypatch.delenv("BOX_REGISTRY_AUTH_HOST", raising=False)
    monkeypatch.delenv("BOX_REGISTRY_AUTH", raising=False)
    return directory / "config.json"


def non_loopback_address():
    """An address of this machine that is not loopback, or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # no packet is sent for a UDP connect
            address = s.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


def _registry_fixture(tmp_path, auth):
    reg = Registry(tmp_path / f"registry-{auth or 'open'}", auth=auth)
    try:
        yield reg
    finally:
        reg.stop()


@pytest.fixture
def registry(tmp_path, docker_config):
    yield from _registry_fixture(tmp_path, None)


@pytest.fixture
def registry_basic(tmp_path, docker_config):
    yield from _registry_fixture(tmp_path, "basic")


@pytest.fixture
def registry_token(tmp_path, docker_config):
    yield from _registry_fixture(tmp_path, "token")


class CuttingProxy:
    """A TCP proxy to the registry that, once, cuts the connection of the first response
    larger than `cut_after` bytes after forwarding that many bytes: a dropped download.
    With `unavailable_first` > 0, the first that many connections are answered
    `503 Service Unavailable` (with Retry-After: 0) instead: a registry that hiccups."""

    def __init__(self, target_port: int, cut_after: int = 1 << 62, unavailable_first: int = 0,
                 stall_after: int = 1 << 62):
        self.target_port = target_port
        self.cut_after = cut_after
        self.stall_after = stall_after  # stop forwarding (but keep the connection) after this
        self.unavailable_left = unavailable_first
        self.unavailable_sent = 0
        self.cuts = 0
        self.forwarded_total = 0  # bytes sent to clients, over all connections
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(16)
        self.lock = threading.Lock()
        self.running = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while self.running:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client):
        with self.lock:
            unavailable = self.unavailable_left > 0
            if unavailable:
                self.unavailable_left -= 1
                self.unavailable_sent += 1
        if unavailable:
            try:
                request = b""
                while b"\r\n\r\n" not in request:
                    data = client.recv(65536)
                    if not data:
                        break
                    request += data
                client.sendall(b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 0\r\n"
                               b"Content-Length: 0\r\nConnection: close\r\n\r\n")
            except OSError:
                pass
            client.close()
            return
        upstream = socket.create_connection(("127.0.0.1", self.target_port))

        def pump_up():
            try:
                while True:
                    data = client.recv(65536)
                    if not data:
                        break
                    upstream.sendall(data)
            except OSError:
                pass
            finally:
                try:
                    upstream.shutdown(socket.SHUT_WR)
                except OSError:
                    pass

        threading.Thread(target=pump_up, daemon=True).start()
        forwarded = 0
        try:
            while True:
                data = upstream.recv(65536)
                if not data:
                    break
                with self.lock:
                    cut = self.cuts == 0 and forwarded + len(data) > self.cut_after
                    if cut:
                        self.cuts += 1
                if cut:
                    client.sendall(data[: max(0, self.cut_after - forwarded)])
                    # shutdown, not just close: the other thread's recv holds the socket open
                    client.shutdown(socket.SHUT_RDWR)
                    break
                if forwarded + len(data) > self.stall_after:
                    client.sendall(data[: max(0, self.stall_after - forwarded)])
                    while self.running:
                        time.sleep(0.05)
                    break
                client.sendall(data)
                forwarded += len(data)
                with self.lock:
                    self.forwarded_total += len(data)
        except OSError:
            pass
        finally:
            client.close()
            upstream.close()

    def stop(self):
        self.running = False
        self.sock.close()


class RedirectingFrontend:
    """An HTTP front for a registry that answers blob GETs with a 307 to a separate blob
    server (as registries backed by object storage do) and forwards everything else. The
    blob server serves the bytes from the registry's storage and records the request
    headers it saw, so tests can check that credentials did not follow the redirect."""

    def __init__(self, reg: "Registry"):
        import http.client
        self.reg = reg
        self.redirects = 0
        self.blob_requests = []
        front = self

        class BlobHandler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                front.blob_requests.append(dict(self.headers))
                digest = self.path.rsplit("/", 1)[-1]
                data = front.reg.blob_path(digest).read_bytes()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        class FrontHandler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def forward(self):
                if self.command == "GET" and "/blobs/sha256:" in self.path:
                    front.redirects += 1
                    self.send_response(307)
                    self.send_header("Location", f"http://127.0.0.1:{front.blob_port}"
                                     f"/data/{self.path.rsplit('/', 1)[-1]}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                conn = http.client.HTTPConnection("127.0.0.1", front.reg.port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                conn.close()

            do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = forward

        self.blob_httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), BlobHandler)
        self.blob_port = self.blob_httpd.server_address[1]
        self.front_httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FrontHandler)
        self.host = f"127.0.0.1:{self.front_httpd.server_address[1]}"
        for httpd in (self.blob_httpd, self.front_httpd):
            threading.Thread(target=httpd.serve_forever, daemon=True).start()

    def stop(self):
        for httpd in (self.blob_httpd, self.front_httpd):
            httpd.shutdown()
            httpd.server_close()
