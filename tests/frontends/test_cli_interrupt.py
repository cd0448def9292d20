"""Ctrl-C (SIGINT) stops a run at once, prints the run's summary and exits with 130."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from metersim._cli import EXIT_INTERRUPTED

REPO = Path(__file__).resolve().parents[2]


def interrupt_after_start(args: list[str], started: str, settle_s: float) -> tuple[int, str, str, float]:
    """Start `metersim ARGS`, wait for a line holding `started`, let it run `settle_s` more,
    send SIGINT; returns (exit code, stdout, stderr, seconds from SIGINT to exit)."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "metersim", *args], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if started in line:
                break
        assert any(started in ln for ln in lines), "".join(lines) + proc.stderr.read()
        time.sleep(settle_s)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, "".join(lines) + out, err, took


@pytest.mark.parametrize("attempt", range(5))
def test_ctrl_c_stops_the_cabinet_with_its_summary(firmware, attempt):
    firmware("f103rb", "metering_controller")
    rc, out, err, took = interrupt_after_start(["cabinet", "--hours", "24"], "virtual, ",
                                               0.2 + 0.3 * attempt)
    assert rc == EXIT_INTERRUPTED, out + err
    assert took < 5.0                     # a second or so of wall time, even on a loaded machine
    assert "interrupted (Ctrl-C) at virtual time" in err
    assert "Traceback" not in err and "Exception ignored" not in err
    assert "virtual time" in out and "controller1:" in out and "instructions" in out


@pytest.mark.parametrize("attempt", range(3))
def test_ctrl_c_stops_a_firmware_run_with_its_summary(firmware, attempt):
    elf = firmware("f413rg", "bench_cpu")
    rc, out, err, took = interrupt_after_start(["run", str(elf), "--for", "1000s"], "[f413]",
                                               0.3 * attempt)
    assert rc == EXIT_INTERRUPTED, out + err
    assert took < 5.0
    assert "Traceback" not in err and "Exception ignored" not in err
    assert "f413:" in out and "instructions" in out
