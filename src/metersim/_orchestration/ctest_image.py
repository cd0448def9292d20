"""On-target C unit-test images (firmware/testing/mstest.h): the cases an image holds, read
from its ELF without running it, and one run of the image on its emulated board with the
result of every case.

The image prints, on its console, `mstest begin <image> <n>`, then per case
`mstest case <suite>.<name> PASS` or `... FAIL <file>:<line>: <message>`, then
`mstest done <image> passed <n> failed <n>`. A fault, a hang or a missing line is a result
too: the cases that did not report are "not run", with the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from elftools.elf.elffile import ELFFile

from metersim._errors import EmulationTimeout, FirmwareFault, SetupError

CASE_SECTION = "mstest_cases"
_CASE_WORDS = 5   # suite, name, fn, file, line (mstest_case_t)
_LINE = re.compile(r"^mstest case (\S+) (PASS|FAIL)(?: (.*?):(\d+): (.*))?$")
_DONE = re.compile(r"^mstest done \S+ passed (\d+) failed (\d+)$")


@dataclass(frozen=True)
class CCase:
    suite: str
    name: str
    file: str     # as the compiler saw it (__FILE__), relative to the firmware folder
    line: int

    @property
    def full_name(self) -> str:
        return f"{self.suite}.{self.name}"


@dataclass
class CaseResult:
    status: str                  # "PASS", "FAIL", "NOT RUN"
    message: str = ""
    file: str | None = None
    line: int | None = None


@dataclass
class ImageRun:
    elf: Path
    results: dict[str, CaseResult] = field(default_factory=dict)
    console: str = ""
    finished: bool = False       # the `mstest done` line came
    problem: str | None = None   # why it did not finish: a fault report, a timeout
    stopped: str | None = None   # "faulted" or "hung"
    stopped_in: str | None = None   # the case that was running then
    blocks: set = field(default_factory=set)   # executed code, when recorded

    def result(self, case: CCase) -> CaseResult:
        got = self.results.get(case.full_name)
        if got is not None:
            return got
        if self.stopped_in is not None:
            why = f"the image {self.stopped} in {self.stopped_in}"
        else:
            why = self.problem or "the image finished without reporting this case"
        return CaseResult("NOT RUN", why)


def list_c_test_cases(elf: str | Path) -> list[CCase]:
    """The mstest cases of `elf` in the order the image runs them (by file, then line)."""
    path = Path(elf)
    try:
        with path.open("rb") as f:
            e = ELFFile(f)
            sec = e.get_section_by_name(CASE_SECTION)
            if sec is None:
                raise SetupError(f"{path} holds no mstest cases (no {CASE_SECTION} section): "
                                 "is it a unit-test image linked with firmware/testing/mstest.c?")
            data = sec.data()
            segs = [(s["p_vaddr"], s.data()) for s in e.iter_segments()
                    if s["p_type"] == "PT_LOAD" and s["p_filesz"]]
    except OSError as err:
        raise SetupError(f"cannot read the test image {path}: {err}") from None

    def cstr(addr: int) -> str:
        for base, blob in segs:
            if base <= addr < base + len(blob):
                end = blob.index(b"\0", addr - base)
                return blob[addr - base:end].decode("utf-8", "replace")
        raise SetupError(f"{path}: a mstest case points at 0x{addr:08x}, outside the image")

    cases = []
    for off in range(0, len(data) - 4 * _CASE_WORDS + 1, 4 * _CASE_WORDS):
        suite, name, _fn, file, line = (int.from_bytes(data[off + 4 * i:off + 4 * i + 4], "little")
                                        for i in range(_CASE_WORDS))
        cases.append(CCase(cstr(suite), cstr(name), cstr(file), line))
    cases.sort(key=lambda c: (c.file.encode(), c.line))
    return cases


def run_c_test_image(elf: str | Path, platform: str | None = None, timeout: str = "10s",
                     seed: int = 0, record_coverage: bool = False) -> ImageRun:
    """Run the image on its board (the ELF's build target) or `platform` until it reports
    `mstest done`, faults, or `timeout` of virtual time passes."""
    from metersim._engine.boards import machine_for_firmware
    from metersim._engine.debug import Debugger
    from metersim._engine.emulation import Emulation
    from metersim._orchestration.testers import capture_uart

    run = ImageRun(Path(elf))
    emu = Emulation(seed=seed)
    m = machine_for_firmware(emu, str(elf), platform)
    cap = capture_uart(m)
    dbg = Debugger.of(m)
    state = {"seen": 0, "done": False}

    def done() -> bool:   # each console line is looked at once
        new, state["seen"] = cap.lines[state["seen"]:], len(cap.lines)
        state["done"] = state["done"] or any(_DONE.match(ln.text) for ln in new)
        return state["done"]

    if record_coverage:
        dbg.start_block_trace()
    try:
        emu.run_until(done, timeout=timeout, what="the `mstest done` line")
        run.finished = True
    except FirmwareFault as e:
        run.stopped, run.problem = "faulted", f"the image faulted:\n{e}"
    except EmulationTimeout as e:
        run.stopped, run.problem = "hung", f"the image hung: {e}"
    finally:
        if record_coverage:
            run.blocks = dbg.stop_block_trace()
    run.console = cap.text
    for ln in cap.lines:
        m_ = _LINE.match(ln.text)
        if m_:
            name, status, file, line, msg = m_.groups()
            run.results[name] = CaseResult(status, msg or "", file, int(line) if line else None)
    if run.problem:
        tail = "\n".join(ln.text for ln in cap.lines[-8:])
        run.problem += f"\nlast console lines:\n{tail}"
        began = any(ln.text.startswith("mstest begin ") for ln in cap.lines)
        pending = [c for c in list_c_test_cases(elf) if c.full_name not in run.results]
        if began and pending:   # cases run in list order: the first without a result was running
            c = pending[0]
            run.stopped_in = c.full_name
            run.results[c.full_name] = CaseResult("FAIL", f"while this case ran, {run.problem}",
                                                  c.file, c.line)
    return run
