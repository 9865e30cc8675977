"""box on a pure cgroup v2 host, which this machine (hybrid) cannot become: boots a small qemu
guest (vm.py) whose /sys/fs/cgroup is cgroup2 alone, and runs the cgroup tests
(test_cgroups.py) and the runtime tests (test_runtime.py: the native backend, and the bundle under native and runc) in it
against the same box binary. The guest reports over its serial console and writes a JUnit
file to a share; qemu is killed after GUEST_TIMEOUT seconds, so this never hangs.

Fails (never skips) when the guest does not boot: qemu is part of the test dependencies."""
import os
import re
import shlex
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import vm

REPO = Path(__file__).resolve().parents[2]
BOX_BIN = os.environ.get("BOX_BIN", str(REPO / "build" / "src" / "box" / "box"))
GUEST_TIMEOUT = 560
# the runtime tests under the native backend, plus the one comparing it with runc (the
# whole file under both backends doubles the guest's time under TCG)
GUEST_TESTS = ["tests/integration/test_cgroups.py", "tests/integration/test_runtime.py",
               "-k", "test_cgroups or native or same_bundle"]

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="boxes need root")


def guest_script():
    env = {k: v for k, v in os.environ.items() if k.startswith(("ASAN_", "UBSAN_"))}
    env.update(BOX_BIN=BOX_BIN, PYTHONDONTWRITEBYTECODE="1", HOME="/root",
               PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    exports = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in sorted(env.items()))
    # a checkout or binary under /tmp or /run would be hidden by the guest's own tmpfs there
    expose = vm.expose_script([str(REPO), os.path.dirname(os.path.realpath(BOX_BIN))])
    return f"""{exports}{expose}cd {shlex.quote(str(REPO))}
echo "box-vm: cgroup filesystem $(stat -f -c %T /sys/fs/cgroup)"
echo "box-vm: box info cgroup mode $("$BOX_BIN" --root /tmp/info-state info | grep -m1 '"mode"')"
start=$(cut -d' ' -f1 /proc/uptime)
/usr/bin/python3 -m pytest -q -p no:cacheprovider -o junit_family=xunit1 \\
  --junit-xml=/out/junit.xml {shlex.join(GUEST_TESTS)}
status=$?
echo "box-vm: guest tests took $(awk -v s=$start '{{print $1 - s}}' /proc/uptime)s"
exit $status
"""


@pytest.mark.timeout(GUEST_TIMEOUT + 60)
def test_box_on_pure_cgroup_v2(tmp_path, record_testsuite_property):
    result = vm.run_guest(guest_script(), tmp_path / "out", timeout=GUEST_TIMEOUT)
    console = result.console
    print(console)
    print(f"guest ({vm.accelerator()}): booted in {result.boot_seconds}s, "
          f"boot + tests {result.seconds:.1f}s")
    # in the JUnit file: how long the guest took, whatever the outcome
    record_testsuite_property("guest_accelerator", vm.accelerator())
    record_testsuite_property("guest_boot_seconds", result.boot_seconds)
    record_testsuite_property("guest_total_seconds", round(result.seconds, 1))
    assert result.status is not None, (
        f"the guest never reported (killed after {GUEST_TIMEOUT}s or failed to boot):\n"
        f"{console[-4000:]}")
    assert "box-vm: cgroup filesystem cgroup2fs" in console
    assert re.search(r'box-vm: box info cgroup mode +"mode": "v2"', console), console[-4000:]
    junit = tmp_path / "out" / "junit.xml"
    assert junit.exists(), console[-4000:]
    cases = ET.parse(junit).getroot().iter("testcase")
    outcome = {}
    for case in cases:
        name = f"{case.get('classname')}::{case.get('name')}"
        kinds = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
        outcome[name] = kinds[0] if kinds else "passed"
    bad = {name: kind for name, kind in outcome.items() if kind in ("failure", "error")}
    assert bad == {}, console[-8000:]
    assert result.status == 0, console[-4000:]
    cgroup_cases = {n: k for n, k in outcome.items() if "test_cgroups" in n}
    # every cgroup test ran in the guest: none skipped, none missing
    assert len(cgroup_cases) >= 9 and set(cgroup_cases.values()) == {"passed"}, cgroup_cases
    assert any("test_runtime" in n and k == "passed" for n, k in outcome.items()), outcome
