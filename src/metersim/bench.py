"""Benchmarks measured side by side in one run: `metersim bench cpu|idle [--json]`.

- cpu: a CPU-bound firmware (integer maths, memory traffic, branches) run on metersim and, when
  qemu-system-arm is installed, the same ELF on QEMU's netduinoplus2 (STM32F405: same flash/SRAM
  base, USART1 at 0x40011000 = QEMU's first serial). Both print a checksum, which must agree.
  QEMU's MIPS uses metersim's exact instruction count over QEMU's wall time between the
  "bench start" and "bench done" lines.
- idle: a firmware sleeping in WFI with a 1 kHz SysTick for 60 virtual seconds: the cost of one
  wake-up (entry + handler + return + WFI) decides how long a day-long meter scenario takes.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

from metersim.engine.emulation import Emulation
from metersim.engine.machine import Machine
from metersim.errors import SetupError

REPO = Path(__file__).resolve().parents[2]
FW = REPO / "build" / "fw"


def _elf(target: str, name: str) -> Path:
    path = FW / target / f"{name}.elf"
    if not path.is_file():
        raise SetupError(f"{path} is missing: run `make firmware` first")
    return path


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
            start["i0"] = m.cpu.instructions + m.cpu.nat.executed
            start["w0"] = time.perf_counter()

    uart.on_byte.append(on_byte)
    wall0 = time.perf_counter()
    emu.run_until(lambda: "bench done" in uart.text, timeout="1000s", what="'bench done' on USART1")
    wall1 = time.perf_counter()
    instructions = m.cpu.instructions - start.get("i0", 0)
    wall = wall1 - start.get("w0", wall0)
    result = {
        "benchmark": "cpu",
        "elf": str(elf.relative_to(REPO)),
        "instructions": instructions,
        "metersim_wall_s": round(wall, 4),
        "metersim_mips": round(instructions / wall / 1e6, 1),
        "metersim_checksum": _checksum(uart.text),
        "qemu_mips": None, "qemu_wall_s": None, "qemu_checksum": None, "ratio": None,
    }
    qemu = shutil.which("qemu-system-arm")
    if qemu:
        q = _run_qemu(qemu, elf, timeout_s)
        if q is not None:
            q_wall, q_text = q
            result["qemu_wall_s"] = round(q_wall, 4)
            result["qemu_mips"] = round(instructions / q_wall / 1e6, 1)
            result["qemu_checksum"] = _checksum(q_text)
            result["ratio"] = round(result["metersim_mips"] / result["qemu_mips"], 4)
    result["checksums_agree"] = (result["qemu_checksum"] is None
                                 or result["qemu_checksum"] == result["metersim_checksum"])
    return result


def _run_qemu(qemu: str, elf: Path, timeout_s: float):
    cmd = [qemu, "-M", "netduinoplus2", "-nographic", "-kernel", str(elf), "-serial", "stdio",
           "-monitor", "none"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL)
    text = ""
    t_start = None
    deadline = time.perf_counter() + timeout_s
    try:
        while time.perf_counter() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            now = time.perf_counter()
            text += line.decode("utf-8", "replace")
            if "bench start" in text and t_start is None:
                t_start = now
            if "bench done" in text:
                return now - (t_start or now), text
        return None
    finally:
        proc.kill()
        proc.wait()


def bench_idle(virtual_s: int = 60) -> dict:
    elf = _elf("f413rg", "bench_idle")
    emu = Emulation()
    m = Machine.bare(emu, "f413", core="cortex-m4f")
    m.load_elf(elf)
    emu.run_for("10ms")  # boot
    ex0 = m.cpu.exceptions_taken
    w0 = time.perf_counter()
    emu.run_for(f"{virtual_s}s")
    wall = time.perf_counter() - w0
    ticks = m.cpu.exceptions_taken - ex0
    return {
        "benchmark": "idle",
        "virtual_s": virtual_s,
        "wall_s": round(wall, 4),
        "ticks": ticks,
        "realtime_factor": round(virtual_s / wall, 2),
        "wall_us_per_tick": round(wall / max(ticks, 1) * 1e6, 2),
        "instructions": m.cpu.instructions,
    }


BENCHMARKS = {"cpu": bench_cpu, "idle": bench_idle}


def run(name: str) -> dict:
    if name not in BENCHMARKS:
        raise SetupError(f"unknown benchmark {name!r}; expected one of {', '.join(BENCHMARKS)}")
    return BENCHMARKS[name]()


def format_result(result: dict, as_json: bool) -> str:
    if as_json:
        return json.dumps(result, indent=2)
    return "\n".join(f"{k:>20}: {v}" for k, v in result.items())
