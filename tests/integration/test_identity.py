"""Identity through the real binary: create, lookup order, ambiguity, rename, and two
processes racing for one name."""
import sqlite3
import subprocess
import threading

import pytest


@pytest.fixture(autouse=True)
def img(request, box):
    """Boxes are created from a real image: busybox, imported as "img" (the race on a fresh
    store below needs an empty state directory and does without)."""
    if request.node.name.startswith("test_fresh_store"):
        return
    tarball = request.getfixturevalue("busybox_tarball")
    box.run("image", "import", "-q", "--change", 'CMD ["sh"]', str(tarball), "img")


def create(box, *args, check=True):
    return box.run("create", *args, "img", check=check)


def test_lookup_by_id_name_slash_name_external_ref_and_prefix(box):
    box_id = create(box, "--name", "web", "--external-ref", "pod-7").stdout.strip()
    assert len(box_id) == 64
    for ref in (box_id, "web", "/web", "pod-7", box_id[:12], box_id[:1]):
        assert box.json("inspect", ref)[0]["Id"] == box_id, ref
    doc = box.json("inspect", "web")[0]
    assert doc["Name"] == "/web"
    assert doc["ExternalRef"] == "pod-7"


def test_external_ref_is_shown_only_when_set(box):
    create(box, "--name", "plain")
    assert "ExternalRef" not in box.json("inspect", "plain")[0]


def test_ambiguous_prefix_is_an_error_never_a_guess(box):
    ids = [create(box).stdout.strip() for _ in range(40)]
    # 40 random ids over 16 first digits: some first digit is shared
    first_digits = [i[0] for i in ids]
    shared = next(d for d in first_digits if first_digits.count(d) > 1)
    proc = box.run("inspect", shared, check=False)
    assert proc.returncode == 125
    assert proc.stderr == f"box: multiple IDs found with provided prefix: {shared}\n"


def test_duplicate_name_and_external_ref_are_conflicts(box):
    holder = create(box, "--name", "app", "--external-ref", "uid-1").stdout.strip()
    proc = create(box, "--name", "app", check=False)
    assert proc.returncode == 125
    assert f'box name "app" is already in use by box {holder}' in proc.stderr
    proc = create(box, "--external-ref", "uid-1", check=False)
    assert proc.returncode == 125
    assert f'external ref "uid-1" is already in use by box {holder}' in proc.stderr


def test_invalid_name_names_the_rule(box):
    proc = create(box, "--name", "no spaces", check=False)
    assert proc.returncode == 125
    assert "[a-zA-Z0-9][a-zA-Z0-9_.-]+" in proc.stderr


def test_rename_keeps_id_frees_old_name(box):
    box_id = create(box, "--name", "old").stdout.strip()
    box.run("rename", "old", "new")
    assert box.json("inspect", "new")[0]["Id"] == box_id
    other = create(box, "--name", "old").stdout.strip()
    assert other != box_id


def test_generated_names_and_ps(box):
    a = create(box).stdout.strip()
    name = box.json("inspect", a)[0]["Name"]
    assert name.startswith("/") and "_" in name
    listed = box.run("ps", "-a", "-q", "--no-trunc").stdout.split()
    assert listed == [a]
    assert box.run("ps", "-q").stdout == ""  # created boxes are not running


def test_rm(box):
    box_id = create(box, "--name", "doomed").stdout.strip()
    box.run("rm", "doomed")
    proc = box.run("inspect", box_id, check=False)
    assert proc.returncode == 125 and "No such box" in proc.stderr


def test_processes_racing_for_one_name_exactly_one_wins(box, box_bin):
    box.run("info")  # create the store first, so the race is about the name
    racers = 16
    for round_ in range(5):
        name = f"contested{round_}"
        barrier = threading.Barrier(racers)
        results = [None] * racers

        def race(i):
            barrier.wait()
            results[i] = subprocess.run(
                [box_bin, "--root", str(box.root), "create", "--name", name, "img"],
                capture_output=True, text=True, timeout=120)

        threads = [threading.Thread(target=race, args=(i,)) for i in range(racers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        winners = [r for r in results if r.returncode == 0]
        losers = [r for r in results if r.returncode != 0]
        assert len(winners) == 1, [r.stderr for r in results]
        winner_id = winners[0].stdout.strip()
        for r in losers:
            assert r.returncode == 125
            assert f'box name "{name}" is already in use by box {winner_id}' in r.stderr
        assert box.json("inspect", name)[0]["Id"] == winner_id

    db = sqlite3.connect(box.root / "box.db")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.execute("SELECT count(*) FROM boxes").fetchone()[0] == 5
    assert db.execute("SELECT count(*) FROM events WHERE action = 'create'").fetchone()[0] == 5


def test_fresh_store_opened_by_many_processes_at_once(box, box_bin):
    """Migrations race too: many first opens of one new state directory all succeed."""
    procs = [subprocess.Popen([box_bin, "--root", str(box.root), "ps", "-a", "-q"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(12)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1] for o in outs]
    assert all(o[0] == "" for o in outs)
    db = sqlite3.connect(box.root / "box.db")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    version = db.execute("PRAGMA user_version").fetchone()[0]
    assert version == box.json("info")["store_schema_version"]
