"""Tests for the test helpers of tests/conftest.py that guard the machine: no child process outlives its test."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import Children

SLEEP = [sys.executable, "-c", "import time; time.sleep(60)"]


def _gone(pid: int, within: float) -> bool:
    """Ended within ``within`` seconds: no such process, or a zombie that its new parent has not reaped yet."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                if stat.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


def test_a_child_still_running_when_the_block_ends_is_killed_with_its_group_and_reaped() -> None:
    with Children() as spawn:
        alone = spawn(SLEEP)
        leader = spawn([sys.executable, "-c", "import subprocess, sys, time; "
                        "print(subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']).pid, "
                        "flush=True); time.sleep(60)"],
                       start_new_session=True, stdout=subprocess.PIPE, text=True)
        grandchild = int(leader.stdout.readline())
        done = spawn([sys.executable, "-c", "pass"])
        done.wait()
    assert alone.returncode == -signal.SIGKILL and leader.returncode == -signal.SIGKILL and done.returncode == 0
    leader.stdout.close()
    assert _gone(grandchild, within=10), "a process of the killed group is still running"


@pytest.mark.slow
def test_a_child_dies_with_the_process_that_started_it_even_by_sigkill() -> None:
    """As when a mutation run's timeout SIGKILLs the test process: its scorer must not run on as an orphan."""
    parent = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from tests.conftest import Children; "
         "child = Children()(sys.argv[1:]); print(child.pid, flush=True); time.sleep(60)", *SLEEP],
        stdout=subprocess.PIPE, text=True, cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    try:
        child = int(parent.stdout.readline())
        assert not _gone(child, within=0.2)
        parent.kill()
        parent.wait()
        assert _gone(child, within=10), "the child outlived the process that started it"
    finally:
        parent.kill()
        parent.wait()
        parent.stdout.close()
