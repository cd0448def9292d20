"""Benchmarks measured side by side in one run: `metersim bench cpu|idle [--json]`.

- cpu: a CPU-bound firmware (integer maths, memory traffic, branches) run on metersim and, when
  qemu-system-arm is installed, the same ELF on QEMU's netduinoplus2 (STM32F405: same flash/SRAM
  base, USART1 at 0x40011000 = QEMU's first serial). Both print a checksum, which must agree.
  QEMU's MIPS uses metersim's exact instruction count over QEMU's wall time between the
  "bench start" and "bench done" lines.
- idle: a firmware sleeping in WFI with a 1 kHz SysTick for 60 virtual seconds: the cost of one
  wake-up (entry + handler + return + WFI) decides how long a day-long meter scenario takes.
- mpu: two unprivileged threads yielding to each other (SVC + PendSV), 2000 switches with the
  MPU off, then 2000 with it on and the process region reprogrammed at every switch, as an RTOS
  with isolated processes does: the wall time of a switch in each phase and their ratio.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

from metersim._engine.emulation import Emulation
from metersim._engine.machine import Machine
from metersim._errors import SetupError
from metersim._resources import find_firmware

def _elf(target: str, name: str) -> Path:
    return find_firmware(target, name)


def _shown(elf: Path) -> str:
    try:
        return str(elf.relative_to(Path.cwd()))
    except ValueError:
        return str(elf)


def _checksum(text: str) -> str | None:
    m = re.search(r"checksum (0x[0-9a-fA-F]+)", text)
    return m.group(1).lower() if m else None


def bench_cpu(timeout_s: float = 120.0) -> dict:
    elf = _elf("qemu405", "bench_cpu")
    emu = Emulation()
    m = Machine.bare(emu, "f405", core="cortex-m4f", sram=(0x20000000, 0x20000))
    m.load_elf(elf)
    uart = m["usart1"]
    start = {}

    def on_byte(_b):
        if "bench start" in uart.text and "i0" not in start:
            start["i0"] = m.cpu.instructions_now()
            start["w0"] = time.perf_counter()
            start["c0"] = time.thread_time()

    uart.on_byte.append(on_byte)
    wall0 = time.perf_counter()
    emu.run_until(lambda: "bench done" in uart.text, timeout="1000s", what="'bench done' on USART1")
    wall1 = time.perf_counter()
    cpu_s = time.thread_time() - start.get("c0", 0.0)
    instructions = m.cpu.instructions - start.get("i0", 0)
    wall = wall1 - start.get("w0", wall0)
    result = {
        "benchmark": "cpu",
        "elf": _shown(elf),
        "instructions": instructions,
        "metersim_wall_s": round(wall, 4),
        "metersim_mips": round(instructions / wall / 1e6, 1),
        "metersim_checksum": _checksum(uart.text),
        # CPU time of the emulating thread: steadier than wall time on a shared machine
        "metersim_cpu_s": round(cpu_s, 4),
        "qemu_mips": None, "qemu_wall_s": None, "qemu_checksum": None, "ratio": None,
    }
    qemu = shutil.which("qemu-system-arm")
    if qemu is None:
        result["qemu"] = "not installed"
        result["checksums_agree"] = None           # nothing to compare with
        return result
    cpu_out: list[float] = []
    marks, q_text = _run_qemu(qemu, elf, ["bench start", "bench done"], timeout_s, cpu_out=cpu_out)
    if len(marks) < 2:
        result["qemu"] = f"did not finish within {timeout_s:g} s"
        result["checksums_agree"] = None
        return result
    q_wall = marks[1] - marks[0]
    result["qemu"] = "netduinoplus2"
    result["qemu_wall_s"] = round(q_wall, 4)
    result["qemu_mips"] = round(instructions / q_wall / 1e6, 1)
    result["qemu_checksum"] = _checksum(q_text)
    result["ratio"] = round(result["metersim_mips"] / result["qemu_mips"], 4)
    result["checksums_agree"] = result["qemu_checksum"] == result["metersim_checksum"]
    if cpu_out:
        # QEMU's CPU time covers its whole process (boot included): a slight handicap for it
        result["qemu_cpu_s"] = round(cpu_out[0], 4)
        result["cpu_time_ratio"] = round(cpu_out[0] / cpu_s, 4)
    return result


def _run_qemu(qemu: str, elf: Path, lines: list[str], timeout_s: float,
              extra: list[str] = (), cpu_out: list | None = None) -> tuple[list[float], str]:
    """Run `elf` on QEMU's netduinoplus2 until each of `lines` has been printed, in order:
    (wall-clock instants they appeared, all the text). `cpu_out` receives QEMU's CPU
    seconds (user + system, the whole process)."""
    cmd = [qemu, "-M", "netduinoplus2", *extra, "-nographic", "-kernel", str(elf),
           "-serial", "stdio", "-monitor", "none"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL)
    text, marks = "", []
    deadline = time.perf_counter() + timeout_s
    try:
        while time.perf_counter() < deadline and len(marks) < len(lines):
            line = proc.stdout.readline()
            if not line:
                break
            now = time.perf_counter()
            text += line.decode("utf-8", "replace")
            if lines[len(marks)] in text.splitlines()[-1]:
                marks.append(now)
        return marks, text
    finally:
        proc.kill()
        try:
            _pid, _status, usage = os.wait4(proc.pid, 0)
            proc.returncode = _status
            if cpu_out is not None:
                cpu_out.append(usage.ru_utime + usage.ru_stime)
        except ChildProcessError:
            proc.wait()


def bench_idle(virtual_s: int = 60, timeout_s: float = 120.0) -> dict:
    elf = _elf("f413rg", "bench_idle")
    emu = Emulation()
    m = Machine.bare(emu, "f413", core="cortex-m4f")
    m.load_elf(elf)
    emu.run_for("10ms")  # boot
    ex0 = m.cpu.exceptions_taken
    w0 = time.perf_counter()
    c0 = time.thread_time()
    emu.run_for(f"{virtual_s}s")
    wall = time.perf_counter() - w0
    cpu_s = time.thread_time() - c0
    ticks = m.cpu.exceptions_taken - ex0
    result = {
        "benchmark": "idle",
        "virtual_s": virtual_s,
        "wall_s": round(wall, 4),
        "ticks": ticks,
        "realtime_factor": round(virtual_s / wall, 2),
        "wall_us_per_tick": round(wall / max(ticks, 1) * 1e6, 2),
        # CPU time of the emulating thread: steadier than wall time on a shared machine
        "cpu_us_per_tick": round(cpu_s / max(ticks, 1) * 1e6, 2),
        "instructions": m.cpu.instructions,
    }
    # The same program on QEMU, skipping idle time as metersim does (icount, sleep=off): its
    # ticks come from QEMU's own core clock, so the fair comparison is the wall time per tick.
    qemu = shutil.which("qemu-system-arm")
    if qemu is None:
        result["qemu"] = "not installed"
        return result
    marks, _text = _run_qemu(qemu, _elf("qemu405", "bench_idle"), ["idle 10000", "idle 60000"],
                             timeout_s, ["-icount", "shift=auto,sleep=off"])
    if len(marks) < 2:
        result["qemu"] = f"did not reach 60000 ticks within {timeout_s:g} s"
        return result
    q_us = (marks[1] - marks[0]) / 50000 * 1e6
    result["qemu"] = "netduinoplus2 -icount shift=auto,sleep=off"
    result["qemu_wall_us_per_tick"] = round(q_us, 3)
    result["tick_cost_over_qemu"] = round(result["wall_us_per_tick"] / q_us, 2)
    # 50 000 ticks of 1 ms = 50 virtual seconds on QEMU's side
    result["qemu_realtime_factor"] = round(50.0 / (marks[1] - marks[0]), 2)
    result["realtime_factor_over_qemu"] = round(result["realtime_factor"]
                                                / result["qemu_realtime_factor"], 4)
    return result


def bench_mpu(target: str = "f413rg", repeat: int = 3) -> dict:
    """Best of `repeat` runs per phase (a shared machine's noise only ever adds time)."""
    runs = [_mpu_switch_run(target) for _ in range(repeat)]
    best = {key: min(r[key] for r in runs) for key in runs[0] if key.endswith(("_off", "_on"))}
    return {
        "benchmark": "mpu",
        "elf": runs[0]["elf"],
        "switches_per_phase": runs[0]["switches"],
        "runs": repeat,
        **best,
        "on_over_off": round(best["wall_us_per_switch_on"] / best["wall_us_per_switch_off"], 3),
        "cpu_on_over_off": round(best["cpu_us_per_switch_on"] / best["cpu_us_per_switch_off"], 3),
    }


def _mpu_switch_run(target: str) -> dict:
    elf = _elf(target, "bench_mpu_switch")
    emu = Emulation()
    m = Machine.bare(emu, "f413", core="cortex-m4f")
    m.load_elf(elf)
    uart = m["usart1"]
    marks: dict[str, tuple[float, int, float]] = {}

    def on_byte(_b):
        for phase in ("bench_mpu_switch", "phase off", "phase on"):
            if phase not in marks and phase in uart.text:
                cpu = m.cpu
                marks[phase] = (time.perf_counter(), cpu.instructions_now(),
                                time.thread_time())

    uart.on_byte.append(on_byte)
    emu.run_until(lambda: "PASS" in uart.text or "FAIL" in uart.text, timeout="100s",
                  what="'PASS' on USART1")
    if "FAIL" in uart.text:
        raise SetupError(f"bench_mpu_switch failed: {uart.text.strip().splitlines()[-1]}")
    n = int(re.search(r"phase off (\d+)", uart.text).group(1))
    (w0, i0, c0), (w1, i1, c1), (w2, i2, c2) = (marks["bench_mpu_switch"], marks["phase off"],
                                                 marks["phase on"])
    # CPU time of this thread as well: on a loaded machine it is the steadier figure
    return {
        "elf": _shown(elf),
        "switches": n,
        "instructions_per_switch_off": round((i1 - i0) / n, 1),
        "instructions_per_switch_on": round((i2 - i1) / n, 1),
        "wall_us_per_switch_off": round((w1 - w0) / n * 1e6, 2),
        "wall_us_per_switch_on": round((w2 - w1) / n * 1e6, 2),
        "cpu_us_per_switch_off": round((c1 - c0) / n * 1e6, 2),
        "cpu_us_per_switch_on": round((c2 - c1) / n * 1e6, 2),
    }


BENCHMARKS = {"cpu": bench_cpu, "idle": bench_idle, "mpu": bench_mpu}


def run(name: str) -> dict:
    if name not in BENCHMARKS:
        raise SetupError(f"unknown benchmark {name!r}; expected one of {', '.join(BENCHMARKS)}")
    return BENCHMARKS[name]()


def format_result(result: dict, as_json: bool) -> str:
    if as_json:
        return json.dumps(result, indent=2)
    return "\n".join(f"{k:>20}: {v}" for k, v in result.items())
