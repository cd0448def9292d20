"""Running a firmware or a scene for the command line: how long, until what, and what the
run leaves behind (a summary for people, or JSON for scripts)."""

from __future__ import annotations

import sys
import time as _time
from dataclasses import dataclass, field

from metersim._errors import EmulationTimeout, SetupError
from metersim._units import format_time, parse_time_ps

DEFAULT_FOR = "1s"          # --for without --until
DEFAULT_UNTIL_FOR = "60s"   # the longest --until waits when --for is not given


def span_for(duration: str | None, until: str | None) -> str:
    """The virtual time a run may take: --for, else 60 s when waiting --until, else 1 s."""
    if duration is not None:
        parse_time_ps(duration)   # a bad value is a set-up error before anything is built
        return duration
    return DEFAULT_UNTIL_FOR if until else DEFAULT_FOR


@dataclass
class RunReport:
    """What a run did, for `--json` and for the summary printed after Ctrl-C."""
    command: str
    emulation: object = None
    captures: list = field(default_factory=list)
    artefacts: dict = field(default_factory=dict)
    exit_reason: str = "completed"

    def as_dict(self, exit_code: int, exit_reason: str, error: str | None = None) -> dict:
        emu = self.emulation
        wall = emu.wall_s if emu is not None else 0.0
        out = {
            "command": self.command,
            "exit_code": exit_code,
            "exit_reason": exit_reason,
            "virtual_time_s": emu.now_ps / 1e12 if emu is not None else 0.0,
            "wall_time_s": round(wall, 6),
            "machines": [],
            "uart_lines": [],
        }
        for m in (emu.machines if emu is not None else []):
            st = m.stats()
            out["machines"].append({"name": m.name, "instructions": st["instructions"],
                                    "exceptions": st["exceptions"], "freq_hz": st["freq_hz"]})
        for cap in self.captures:
            for ln in cap.lines:
                out["uart_lines"].append({"machine": cap.machine_name, "uart": cap.uart_name,
                                          "time_s": ln.start_ps / 1e12, "text": ln.text})
        out["uart_lines"].sort(key=lambda ln: ln["time_s"])
        if self.artefacts:
            out["artefacts"] = dict(self.artefacts)
        if error:
            out["error"] = error
        return out


def run_with_progress(emu, duration: str, until=None, what: str = "condition", stream=None):
    """Run for `duration` of virtual time (or until `until()`), drawing a progress bar on a
    terminal for runs longer than a few seconds of wall time. EmulationTimeout when `until`
    is given and never holds."""
    total = parse_time_ps(duration)
    stream = stream or sys.stderr
    show = stream.isatty()
    start_ps, start_wall = emu.now_ps, _time.perf_counter()
    end_ps = start_ps + total
    chunk = max(total // 200, 1)
    last_draw = start_wall
    while emu.now_ps < end_ps:
        stop = emu.run_until_time(min(end_ps, emu.now_ps + chunk), until)
        now_wall = _time.perf_counter()
        if show and now_wall - last_draw > 0.5:
            last_draw = now_wall
            frac = (emu.now_ps - start_ps) / total
            bar = "#" * int(frac * 30)
            stream.write(f"\r[{bar:<30}] {emu.now_ps / 1e12:9.3f} s virtual, "
                         f"{now_wall - start_wall:6.1f} s wall")
            stream.flush()
        if stop:
            break
    if show and last_draw != start_wall:
        stream.write("\n")
    if until is not None and not until():
        raise EmulationTimeout(f"{what} not met within {format_time(total)} of virtual time")


def line_with(captures, text: str):
    """A condition: a complete line holding `text` has appeared on one of `captures` (complete
    lines only, so the matching line is printed too)."""
    seen = [0] * len(captures)
    hit = [False]

    def found() -> bool:
        for i, c in enumerate(captures):
            new, seen[i] = c.lines[seen[i]:], len(c.lines)
            if any(text in ln.text for ln in new):
                hit[0] = True
        return hit[0]
    return found


def run_firmware(elf: str, platform: str | None = None, duration: str | None = None,
                 until: str | None = None, seed: int = 0, name: str | None = None,
                 echo=None, execute=None, report: RunReport | None = None, out=print):
    """Run `elf` on its board (from the target its build recorded) or on `platform` (a .repl
    or a platform name); `execute`: monitor commands run once the firmware is loaded.
    Returns (emulation, machine, console text)."""
    from metersim._engine.boards import machine_for_firmware
    from metersim._engine.emulation import Emulation
    from metersim._orchestration.testers import capture_uart

    span = span_for(duration, until)
    emu = Emulation(seed=seed)
    report = report if report is not None else RunReport("run")
    report.emulation = emu
    m = machine_for_firmware(emu, elf, platform, name)
    cap = capture_uart(m, echo=echo)
    report.captures.append(cap)
    if execute:
        from metersim._frontends.monitor import Monitor
        mon = Monitor(emu, out=out)
        try:
            for cmd in execute:
                text = mon.execute(cmd, where="-e")
                if text:
                    out(text)
        finally:
            mon.close()
    run_with_progress(emu, span, line_with([cap], until) if until else None,
                      what=f"{until!r} on {m.name}:{cap.uart_name}")
    return emu, m, cap.text


def run_scene(scene: str, duration: str | None = None, until: str | None = None, seed: int = 0,
              execute=None, report: RunReport | None = None, out=print):
    """Run a .resc scene: `execute` commands first, then the scene; then, if it said `start`
    (or a duration or --until was given), run for the span or until `until` appears on an
    analyzed UART (the machines' console UARTs when none is). Returns the emulation."""
    from metersim._frontends.monitor import Monitor
    from metersim._orchestration.testers import capture_uart

    report = report if report is not None else RunReport("run")
    mon = Monitor(seed=seed, out=out)
    try:
        report.emulation = mon.emulation
        for cmd in execute or []:
            text = mon.execute(cmd, where="-e")
            if text:
                out(text)
        mon.execute_script(scene)
        emu = report.emulation = mon.emulation
        if mon.quit_requested:
            return emu
        caps = list(mon.analyzers.values())
        if not caps:
            for m in emu.machines:
                try:
                    caps.append(capture_uart(m))
                except SetupError:
                    pass   # a machine without a UART
        report.captures[:] = caps
        if mon.started or duration is not None or until:
            span = span_for(duration, until)
            if until:
                names = ", ".join(f"{c.machine_name}:{c.uart_name}" for c in caps) or "no UART"
                if not caps:
                    raise SetupError(f"--until {until!r}: the scene has no UART to watch")
                emu.run_until(line_with(caps, until), timeout=span, what=f"{until!r} on {names}")
            else:
                mon.run_for(span)
        elif emu.now_ps == 0:
            out("note: the scene did not `start` the emulation, nothing ran (add `start`, "
                "or pass --for)")
        return emu
    finally:
        mon.close()


def trace_firmware(elf: str, platform: str | None = None, duration: str = "1s",
                   pcap: str | None = None, vcd: str | None = None, uart: str | None = None,
                   protocol: str = "text", seed: int = 0, echo=None,
                   report: RunReport | None = None):
    """Run `elf` and record its UART traffic to a pcap and the machine's nets to a VCD (GPIO
    pins named after the devices they drive, IRQ lines, relays, SPI bytes per bus, UART
    characters; `VcdTracer.machine`); returns the emulation."""
    from metersim._engine.boards import machine_for_firmware
    from metersim._engine.emulation import Emulation
    from metersim._orchestration.testers import capture_uart, console_uart_of
    from metersim._traces import VcdTracer, capture_uart_pcap

    if not pcap and not vcd:
        raise SetupError("nothing to trace: give --pcap FILE and/or --vcd FILE")
    parse_time_ps(duration)
    emu = Emulation(seed=seed)
    report = report if report is not None else RunReport("trace")
    report.emulation = emu
    m = machine_for_firmware(emu, elf, platform)
    uart_name, uart_model = console_uart_of(m, uart)
    report.captures.append(capture_uart(m, uart_name, echo=echo))
    writers = []
    if pcap:
        writers.append(capture_uart_pcap(uart_model, pcap, protocol=protocol,
                                         role="slave" if protocol == "modbus" else None))
        report.artefacts["pcap"] = str(pcap)
    if vcd:
        tracer = VcdTracer(vcd, m.clock)
        tracer.machine(m)        # every net, named as the platform wires it
        writers.append(tracer)
        report.artefacts["vcd"] = str(vcd)
    try:
        run_with_progress(emu, duration)
    finally:
        for w in writers:
            w.close()
    if pcap and protocol == "modbus":
        _check_modbus_heard(writers[0], uart_name, duration)
    return emu


def _check_modbus_heard(cap, uart_name: str, duration: str) -> None:
    """`trace` runs the firmware alone: no Modbus master polls it, so a slave stays silent.
    Say so instead of leaving an empty pcap."""
    from metersim._traces import TraceError

    if cap.valid:
        return
    seen = ("no character at all" if not cap.frames else
            f"{len(cap.frames)} burst(s) of bytes, none a valid Modbus RTU frame")
    raise TraceError(
        f"--protocol modbus: expected Modbus RTU frames on {uart_name} and saw {seen} in "
        f"{duration} of virtual time, so {cap.path} holds no Modbus record. `metersim trace` "
        f"runs the firmware with no Modbus master on the line, and a slave (such as the "
        f"metering controller) only answers when polled: poll it from Python with "
        f"metersim._cabinet.modbus_master.ModbusMaster and record the bus with "
        f"metersim._traces.capture_rs485_pcap, or trace a UART on which the firmware itself "
        f"sends Modbus requests (--uart).")
