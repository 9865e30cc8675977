"""box login / logout against real registries: htpasswd Basic auth and the token flow."""
import json
import os
import stat

from registry import USERS


def login(box, host, user, password):
    return box.run("login", host, "-u", user, "--password-stdin", input=password + "\n",
                   check=False)


def test_login_basic_stores_credentials_mode_0600(box, registry_basic, docker_config):
    proc = login(box, registry_basic.host, "alice", USERS["alice"])
    assert proc.returncode == 0, proc.stderr
    assert "Login Succeeded" in proc.stdout
    assert stat.S_IMODE(os.stat(docker_config).st_mode) == 0o600
    config = json.loads(docker_config.read_text())
    entry = config["auths"][registry_basic.host]
    import base64
    assert base64.b64decode(entry["auth"]).decode() == f"alice:{USERS['alice']}"


def test_login_keeps_other_config_content(box, registry_basic, docker_config):
    docker_config.parent.mkdir(parents=True, exist_ok=True)
    docker_config.write_text(json.dumps({"auths": {"other:5000": {"auth": "eDp5"}},
                                         "psFormat": "table"}))
    assert login(box, registry_basic.host, "alice", USERS["alice"]).returncode == 0
    config = json.loads(docker_config.read_text())
    assert config["psFormat"] == "table"
    assert set(config["auths"]) == {"other:5000", registry_basic.host}


def test_login_basic_wrong_password_names_registry(box, registry_basic, docker_config):
    proc = login(box, registry_basic.host, "alice", "not-the-password")
    assert proc.returncode != 0
    assert registry_basic.host in proc.stderr
    assert "wrong username or password" in proc.stderr
    assert "not-the-password" not in proc.stderr + proc.stdout
    assert not docker_config.exists()


def test_login_token_flow(box, registry_token, docker_config):
    proc = login(box, registry_token.host, "bob", USERS["bob"])
    assert proc.returncode == 0, proc.stderr
    requests = registry_token.token_server.requests
    assert requests and requests[-1]["user"] == "bob"


def test_login_token_wrong_password_names_registry(box, registry_token, docker_config):
    proc = login(box, registry_token.host, "bob", "wrong-secret")
    assert proc.returncode != 0
    assert registry_token.host in proc.stderr
    assert "wrong username or password" in proc.stderr
    assert "wrong-secret" not in proc.stderr + proc.stdout


def test_logout_removes_credentials(box, registry_basic, docker_config):
    assert login(box, registry_basic.host, "alice", USERS["alice"]).returncode == 0
    proc = box.run("logout", registry_basic.host)
    assert registry_basic.host in proc.stdout
    assert registry_basic.host not in json.loads(docker_config.read_text())["auths"]
    again = box.run("logout", registry_basic.host, check=False)
    assert again.returncode != 0
    assert "not logged in" in again.stderr


def test_login_through_credential_helper(box, registry_basic, docker_config, tmp_path,
                                         monkeypatch, busybox_layout):
    """credsStore names docker-credential-<name>: login stores through it (get/store/erase
    protocol), the config file keeps no secret, a pull gets the credentials back from it,
    logout erases them."""
    helper_dir = tmp_path / "helper-bin"
    helper_dir.mkdir()
    store = tmp_path / "helper-store.json"
    helper = helper_dir / "docker-credential-boxtest"
    helper.write_text(f"""#!/usr/bin/python3
import json, sys
path = {str(store)!r}
try:
    data = json.load(open(path))
except FileNotFoundError:
    data = {{}}
action = sys.argv[1]
raw = sys.stdin.read()
if action == "store":
    req = json.loads(raw)
    data[req["ServerURL"]] = [req["Username"], req["Secret"]]
elif action == "get":
    key = raw.strip()
    if key not in data:
        print("credentials not found in native keychain")
        sys.exit(1)
    print(json.dumps({{"ServerURL": key, "Username": data[key][0], "Secret": data[key][1]}}))
elif action == "erase":
    data.pop(raw.strip(), None)
json.dump(data, open(path, "w"))
""")
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{helper_dir}:{os.environ['PATH']}")
    docker_config.parent.mkdir(parents=True, exist_ok=True)
    docker_config.write_text(json.dumps({"credsStore": "boxtest"}))

    assert login(box, registry_basic.host, "alice", USERS["alice"]).returncode == 0
    assert json.loads(store.read_text())[registry_basic.host] == ["alice", USERS["alice"]]
    assert USERS["alice"] not in docker_config.read_text()
    registry_basic.skopeo_copy(busybox_layout.path, "busybox:1", tag="1")
    assert "Pull complete" in box.run("pull", f"{registry_basic.host}/busybox:1").stdout
    box.run("logout", registry_basic.host)
    assert registry_basic.host not in json.loads(store.read_text())


def test_login_refuses_plain_http_to_non_loopback(box, docker_config):
    # 192.0.2.0/24 is TEST-NET-1: nothing answers, and box must not even try plain HTTP
    proc = login(box, "192.0.2.1:5000", "alice", "x")
    assert proc.returncode != 0
    assert "192.0.2.1:5000" in proc.stderr
