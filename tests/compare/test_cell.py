"""The worker subprocess entry point: it must not outlive a killed grid."""

import os
import signal
import subprocess
import sys
import time

from .conftest import REPO


def test_a_worker_exits_when_its_parent_is_killed(tmp_path):
    pid_file = tmp_path / "child.pid"
    child_code = ("from usb_asd.compare.cell import exit_with_parent; import os, time; exit_with_parent(0.1); "
                  f"open({str(pid_file)!r} + '.tmp', 'w').write(str(os.getpid())); "
                  f"os.replace({str(pid_file)!r} + '.tmp', {str(pid_file)!r}); time.sleep(60)")
    parent = subprocess.Popen([sys.executable, "-c", (
        "import subprocess, sys, time\n"
        f"subprocess.Popen([sys.executable, '-c', {child_code!r}])\n"
        "time.sleep(60)\n")], cwd=REPO)
    deadline = time.time() + 30
    while not pid_file.exists() and time.time() < deadline:
        time.sleep(0.05)
    child = int(pid_file.read_text())  # written once the child is armed
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.time() + 10
    while time.time() < deadline and _alive(child):
        time.sleep(0.1)
    assert not _alive(child)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by init) counts as gone.
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split()[2] != "Z"
    except FileNotFoundError:
        return False
