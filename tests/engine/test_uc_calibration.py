"""unicorn's private offsets are found by a probe in a child process and cached per unicorn
build: the README's example runs from any working directory (the probe used to run in-process
and crashed the user's interpreter there), and a broken or failing probe costs speed only."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from metersim._engine import uc_native
from metersim._engine.emulation import Emulation
from metersim._engine.machine import Machine
from metersim._errors import SetupError

REPO = Path(__file__).resolve().parents[2]


def readme_example() -> str:
    text = (REPO / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    return next(b for b in blocks if "metersim.Emulation(" in b and "capture_uart" in b)


def test_readme_example_runs_from_another_directory(tmp_path):
    work = tmp_path / "ex"
    work.mkdir()
    (work / "example.py").write_text(readme_example())
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
           "XDG_CACHE_HOME": str(tmp_path / "cache")}   # empty cache: the probe runs
    out = subprocess.run([sys.executable, "example.py"], cwd=work, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, f"exit {out.returncode}: {out.stderr[-2000:]}"
    # "tick 500" of the 1 kHz firmware, reported a little after 500 ms of virtual time
    when, unit, tick100_ps = out.stdout.split()
    assert unit == "ms" and 500 < float(when) < 510
    assert 100e9 < int(tick100_ps) < 110e9
    cached = list((tmp_path / "cache" / "metersim").glob("uc_offsets-*.json"))
    assert len(cached) == 1 and json.loads(cached[0].read_text()) == uc_native.calibration()


def test_calibration_is_cached_under_xdg_cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(uc_native, "_calibration", None)
    path = uc_native.cache_path()
    assert path.parent == tmp_path / "metersim"
    assert "unicorn2.1.4" in path.name and f"py{sys.version_info[0]}{sys.version_info[1]}" \
        in path.name
    probes = []
    real_probe = uc_native._run_probe
    monkeypatch.setattr(uc_native, "_run_probe", lambda: probes.append(1) or real_probe())
    first = uc_native.calibration()
    assert probes == [1] and json.loads(path.read_text()) == first
    # a second process (here: a cleared in-process copy) reads the file, no probe
    monkeypatch.setattr(uc_native, "_calibration", None)
    assert uc_native.calibration() == first and probes == [1]
    # a damaged file is probed again and rewritten
    path.write_text("{not json")
    monkeypatch.setattr(uc_native, "_calibration", None)
    assert uc_native.calibration() == first and probes == [1, 1]
    assert json.loads(path.read_text()) == first


def test_failing_probe_falls_back_to_unicorns_count(tmp_path, monkeypatch, firmware):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    good = uc_native.calibration()
    monkeypatch.setattr(uc_native, "_calibration", None)
    monkeypatch.setattr(uc_native, "_OFFSETS", None)
    monkeypatch.setattr(uc_native, "_COUNTER_INDEX", None)
    monkeypatch.setattr(uc_native, "_run_probe", lambda: None)
    got = uc_native.calibration()
    assert got["offsets"] == [-1, -1, -1, -1]
    assert got["counter_index"] == good["counter_index"]   # the safe in-process counter probe
    assert not list(tmp_path.glob("metersim/*.json"))       # a failure is not cached
    emu = Emulation()
    m = Machine.bare(emu, "f405", core="cortex-m4f", sram=(0x20000000, 0x20000))
    m.load_elf(firmware("qemu405", "bench_cpu"))
    assert m.cpu.bc is None          # no block clock: unicorn's per-instruction count
    # still exact time: 12345 cycles of a CPU-bound program are 12345 instructions
    emu.run_until_time(12345 * 10**12 // m.cpu.freq_hz)
    assert m.cpu.instructions == 12345


def test_calibration_finds_the_field_that_limits_a_translation_block(tmp_path, monkeypatch):
    """cflags_next_tb, which ends slices inside blocks, is found with the other offsets; a
    cache written before it was probed for is probed again."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    good = uc_native.calibration()
    assert good["tb_cflags"] >= 0
    path = uc_native.cache_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({k: v for k, v in good.items() if k != "tb_cflags"}))
    monkeypatch.setattr(uc_native, "_calibration", None)
    assert uc_native.calibration() == good
    assert json.loads(path.read_text()) == good


def test_a_unicorn_without_the_field_is_refused_with_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    good = uc_native.calibration()
    monkeypatch.setattr(uc_native, "_calibration", None)
    monkeypatch.setattr(uc_native, "_run_probe", lambda: dict(good, tb_cflags=-1))
    with pytest.raises(SetupError, match="cflags_next_tb"):
        uc_native.calibration()
