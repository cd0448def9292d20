"""Code coverage without instrumenting the firmware: the RTOS's own on-target unit tests run on
the emulated F413 while the engine's block trace records what ran; the DWARF line table turns
that into line and function coverage of firmware/rtos, written as lcov (rendered by genhtml) and
Cobertura XML."""

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from metersim._coverage import CoverageData, CoverageRecorder
from metersim._engine.debug import Debugger
from metersim._engine.emulation import Emulation
from metersim._engine.machine import Machine
from metersim._orchestration.ctest_image import run_c_test_image
from metersim._orchestration.testers import capture_uart

from tests.conftest import REPO

RTOS = REPO / "firmware" / "rtos"


def line_of(path, text: str) -> int:
    """The number of the line of `path` holding `text` (located, not hard-coded: the sources
    change)."""
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if text in line:
            return n
    raise AssertionError(f"{text!r} not in {path}")


@pytest.fixture(scope="module")
def unit_runs(firmware):
    return [run_c_test_image(firmware("f413rg", name), record_coverage=True)
            for name in ("unit_ds", "unit_kernel")]


@pytest.fixture(scope="module")
def rtos_cov(unit_runs):
    data = CoverageData()
    for run in unit_runs:
        assert run.finished and all(r.status == "PASS" for r in run.results.values()), run.console
        data.merge(CoverageData.from_blocks(run.elf, run.blocks))
    return data.filtered(include=[f"{RTOS}/*"], existing=True)


def test_functions_the_unit_tests_call_ran_and_one_they_never_call_did_not(rtos_cov):
    ring = RTOS / "src" / "ms_ring.c"
    process = RTOS / "src" / "ms_process.c"
    assert rtos_cov.function_hit("ms_ring_put", ring) == 1          # unit_ds's ring case
    assert rtos_cov.function_hit("ms_sem_wait") == 1                # unit_kernel's sem case
    assert rtos_cov.function_hit("ms_process_create", process) == 0  # no unit test makes one
    # The function record sits on its definition line, and every line of the uncalled
    # function has code that did not run.
    fn = rtos_cov.files[str(process)].functions["ms_process_create"]
    assert fn.line == line_of(process, "ms_handle_t ms_process_create(")
    assert len(fn.lines) > 5 and all(rtos_cov.line_hit(process, n) == 0 for n in fn.lines)


def test_known_executed_and_unexecuted_lines(rtos_cov):
    frame = RTOS / "tests" / "common" / "rtos_test.c"
    assert rtos_cov.line_hit(frame, line_of(frame, 'ms_printk("PASS\\n");')) == 1
    assert rtos_cov.line_hit(frame, line_of(frame, 'ms_printk("FAIL %s\\n", line);')) == 0
    ring = RTOS / "src" / "ms_ring.c"
    put = line_of(ring, "uint32_t ms_ring_put(")
    assert any(rtos_cov.line_hit(ring, n) == 1 for n in range(put, put + 6))
    # a call the compiler inlined whole: its line ran when the inlined code did
    ds = RTOS / "tests" / "unit_ds" / "main.c"
    assert rtos_cov.line_hit(ds, line_of(ds, "MST_PTR_EQ(ms_tlist_first(&l), 0);")) == 1
    # comments and blank lines have no code: neither covered nor missed
    assert rtos_cov.line_hit(ring, 1) is None
    # only firmware/rtos is reported (the filter), and test bodies of both images are in it
    assert all(p.startswith(str(RTOS)) for p in rtos_cov.files)
    assert str(RTOS / "tests" / "unit_kernel" / "main.c") in rtos_cov.files


def test_lcov_renders_in_genhtml(rtos_cov, tmp_path):
    genhtml = shutil.which("genhtml")
    if genhtml is None:
        pytest.fail("genhtml is missing: `make tools` installs Debian's lcov")
    info = rtos_cov.write_lcov(tmp_path / "rtos.info", test_name="unit ds+kernel")
    text = info.read_text()
    t = rtos_cov.totals()
    assert text.count("end_of_record") == len(rtos_cov.files)
    assert sum(int(v) for v in _fields(text, "LF")) == t["lines_found"]
    assert sum(int(v) for v in _fields(text, "LH")) == t["lines_hit"]
    assert "FNDA:0,ms_process_create" in text and "FNDA:1,ms_ring_put" in text
    out = subprocess.run([genhtml, "-q", "-o", str(tmp_path / "html"), str(info)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "html" / "index.html").is_file()
    page = tmp_path / "html" / "src" / "ms_ring.c.gcov.html"
    assert page.is_file() and "ms_ring_put" in page.read_text()


def _fields(text: str, key: str) -> list[str]:
    return [ln.split(":", 1)[1] for ln in text.splitlines() if ln.startswith(key + ":")]


def test_cobertura_xml_agrees_with_the_summary(rtos_cov, tmp_path):
    path = rtos_cov.write_cobertura(tmp_path / "cov.xml")
    root = ET.parse(path).getroot()
    t = rtos_cov.totals()
    assert int(root.get("lines-valid")) == t["lines_found"]
    assert int(root.get("lines-covered")) == t["lines_hit"]
    assert root.find("sources/source").text == str(RTOS)
    classes = {c.get("filename"): c for c in root.iter("class")}
    ring = classes["src/ms_ring.c"]
    assert float(ring.get("line-rate")) == pytest.approx(
        rtos_cov.files[str(RTOS / "src" / "ms_ring.c")].lines_hit
        / rtos_cov.files[str(RTOS / "src" / "ms_ring.c")].lines_found, abs=1e-4)
    methods = {m.get("name"): m for m in classes["src/ms_process.c"].iter("method")}
    assert float(methods["ms_process_create"].get("line-rate")) == 0.0
    summary = rtos_cov.summary()
    assert summary.splitlines()[0] == f"coverage of {RTOS}"
    assert f"{t['lines_hit']}/{t['lines_found']}" in summary.splitlines()[-1]


def test_same_firmware_same_coverage(unit_runs, firmware):
    again = run_c_test_image(firmware("f413rg", "unit_ds"), record_coverage=True)
    assert again.blocks == unit_runs[0].blocks


def test_stopped_trace_records_nothing_more(firmware):
    emu = Emulation()
    m = Machine.bare(emu, "f413rg", "cortex-m4f", 16_000_000)
    m.load_elf(firmware("f413rg", "rtos_ipc"))
    rec = CoverageRecorder(machines=[m]).start()
    emu.run_for("1ms")
    early = rec.stop()
    seen = Debugger.of(m).block_trace()
    assert not Debugger.of(m).block_tracing
    emu.run_for("1s")   # the test runs to PASS: much more code runs
    assert Debugger.of(m).block_trace() == seen
    ipc = str(REPO / "firmware" / "rtos" / "tests" / "rtos_ipc" / "main.c")
    assert early.files[ipc].lines_hit < early.files[ipc].lines_found
    late = CoverageRecorder(machines=[m]).start()
    emu.run_for("1ms")
    late.stop()
    # recording again keeps what was recorded before
    assert late.blocks()[str(m.firmware.path.resolve())] >= seen


def test_cli_coverage_run_writes_lcov_and_cobertura(firmware, tmp_path):
    elf = firmware("f413rg", "unit_ds")
    out = subprocess.run([sys.executable, "-m", "metersim", "coverage", "run", str(elf),
                          "--until", "mstest done", "--lcov", str(tmp_path / "c.info"),
                          "--cobertura", str(tmp_path / "c.xml"),
                          "--include", "*/firmware/rtos/src/*"],
                         capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == f"coverage of {RTOS / 'src'}"
    rows = {ln.split()[0]: ln.split() for ln in lines[3:] if ln and not ln.startswith("-")}
    assert rows["ms_ring.c"][2] == "100%"       # unit_ds exercises every line of the rings
    assert rows["ms_process.c"][2] == "0%"      # and makes no process
    assert "TOTAL" in rows
    info = (tmp_path / "c.info").read_text()
    assert f"SF:{RTOS / 'src' / 'ms_ring.c'}" in info and "rtos_test.c" not in info
    assert ET.parse(tmp_path / "c.xml").getroot().tag == "coverage"


def test_cli_coverage_of_a_file_that_is_not_an_elf_says_so(tmp_path):
    bogus = tmp_path / "fw.elf"
    bogus.write_text("not an ELF")
    out = subprocess.run([sys.executable, "-m", "metersim", "coverage", "run", str(bogus)],
                         capture_output=True, text=True, env={**os.environ})
    assert out.returncode == 3, out.stderr   # EXIT_SETUP
    assert "fw.elf" in out.stderr and "ELF" in out.stderr


def test_recording_does_not_change_what_the_firmware_does(firmware):
    """Same console, virtual time and instruction count with coverage on and off (the trace
    hooks translation, not execution; instruction counting stays exact)."""
    def run(record: bool):
        emu = Emulation()
        m = Machine.bare(emu, "f413rg", "cortex-m4f", 16_000_000)
        m.load_elf(firmware("f413rg", "rtos_sched"))
        cap = capture_uart(m)
        rec = CoverageRecorder(emu).start() if record else None
        emu.run_until(lambda: "PASS" in cap.text, timeout="5s", what="PASS")
        blocks = rec.stop() and rec.blocks() if rec else None
        return cap.text, emu.now_ps, m.cpu.instructions, blocks

    off, on = run(False), run(True)
    assert on[:3] == off[:3]
    assert len(next(iter(on[3].values()))) > 100


def test_a_trace_cannot_start_from_inside_a_run(firmware):
    """Starting flushes the translated code: from a model's callback (the core mid-slice) it
    would pull the running code from under the core, so it is refused."""
    from metersim._errors import SetupError

    emu = Emulation()
    m = Machine.bare(emu, "f413rg", "cortex-m4f", 16_000_000)
    m.load_elf(firmware("f413rg", "hello"))
    refused = []

    def on_byte(_b):
        if not refused:
            with pytest.raises(SetupError, match="between runs"):
                Debugger.of(m).start_block_trace()
            refused.append(True)

    m["usart1"].on_byte.append(on_byte)
    emu.run_for("10ms")
    assert refused and not Debugger.of(m).block_tracing
