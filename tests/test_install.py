"""metersim installed from a wheel into a fresh virtual environment works outside the checkout:
platform files come from the package, firmware from the documented search path, and the
command line, the Python API, the pytest plugin and the Robot library all run from /tmp."""

import os
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def run(cmd, cwd, env, timeout=300):
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))} -> {proc.returncode}\n" \
                                 f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(python, metersim script, environment, a working folder outside the checkout)."""
    tmp = tmp_path_factory.mktemp("install")
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", tmp / "dist", REPO],
        cwd=tmp, env=os.environ.copy())
    wheel = next((tmp / "dist").glob("metersim-*.whl"))
    venv = tmp / "venv"
    run([sys.executable, "-m", "venv", venv], cwd=tmp, env=os.environ.copy())
    py = venv / "bin" / "python"
    run([py, "-m", "pip", "install", "-q", "--no-deps", "--no-index", wheel], cwd=tmp,
        env=os.environ.copy())
    # The dependencies come from the project's environment (no second download); its
    # editable metersim is not on the path: site-packages .pth files there are not read.
    site = Path(run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                    cwd=tmp, env=os.environ.copy()).strip())
    (site / "zz_metersim_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    work = tmp / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["METERSIM_FIRMWARE_PATH"] = str(REPO / "build" / "fw")
    env["HOME"] = str(tmp)          # an empty user cache
    return py, venv / "bin" / "metersim", env, work, wheel


def test_the_wheel_carries_platforms_and_the_mpu_fill(installed):
    *_, wheel = installed
    names = zipfile.ZipFile(wheel).namelist()
    assert "metersim/platforms/cpus/stm32f413.repl" in names
    assert "metersim/platforms/scenes/hello_f413.resc" in names
    assert any(n.startswith("metersim/_engine/_mpu_fill") and n.endswith(".so") for n in names)


def test_python_api_from_outside_the_checkout(installed):
    py, _, env, work, _ = installed
    out = run([py, "-c", textwrap.dedent("""
        import metersim, metersim._resources as r
        from metersim._engine.emulation import Emulation
        from metersim._engine.platform_builder import create_machine
        from metersim._engine import mpu_guard
        from metersim._orchestration.testers import capture_uart
        assert "/work/main/src" not in metersim.__file__, metersim.__file__
        assert mpu_guard._mpu_fill is not None
        emu = Emulation()
        m = create_machine(emu, r.find_platform("stm32f413"),
                           elf=r.find_firmware("f413rg", "mpu_regions"))
        cap = capture_uart(m, "usart1")
        emu.run_until(lambda: "PASS" in cap.text, timeout="5s")
        print(metersim.__file__)
        print(r.data_root())
        """)], cwd=work, env=env)
    file, root = out.split()[:2]
    assert "venv" in file and "venv" in root


def test_command_line_from_outside_the_checkout(installed):
    _, metersim, env, work, _ = installed
    out = run([metersim, "platform", "show", "platforms/cpus/stm32f413.repl"], cwd=work, env=env)
    assert "usart1" in out
    out = run([metersim, "run", REPO / "build" / "fw" / "f413rg" / "hello.elf", "--platform",
               "platforms/cpus/stm32f413.repl", "--for", "1s"], cwd=work, env=env)
    assert "hello" in out.lower()
    out = run([metersim, "run", REPO / "build" / "fw" / "f103rb" / "hello.elf", "--for", "1s"],
              cwd=work, env=env)                       # the board from the firmware's note
    assert "Cortex-M3" in out


def test_pytest_plugin_and_robot_library_from_outside_the_checkout(installed):
    py, _, env, work, _ = installed
    (work / "test_board.py").write_text(textwrap.dedent("""
        import pytest

        @pytest.mark.metersim(platform="stm32f413", elf="mpu_regions")
        def test_mpu_program(machine, uart):
            uart.expect("PASS", timeout="5s")
        """))
    out = run([py, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_board.py"], cwd=work,
              env=env)
    assert "1 passed" in out
    (work / "hello.robot").write_text(textwrap.dedent("""
        *** Settings ***
        Library           metersim.robot
        *** Test Cases ***
        Hello
            Execute Command           mach create "f413"
            Execute Command           machine LoadPlatformDescription @platforms/cpus/stm32f413.repl
            Execute Command           sysbus LoadELF @${FW}/f413rg/hello.elf
            Create Terminal Tester    sysbus.usart1
            Start Emulation
            Wait For Line On Uart     hello    timeout=2
        """))
    out = run([py, "-m", "robot", "--output", "NONE", "--report", "NONE", "--log", "NONE",
               "--variable", f"FW:{REPO / 'build' / 'fw'}", "hello.robot"], cwd=work, env=env)
    assert "1 passed, 0 failed" in out


def test_metersim_test_runs_a_renode_style_suite_outside_the_checkout(installed):
    """The keywords resource renode-test injects ships in the wheel."""
    _, metersim, env, work, wheel = installed
    assert "metersim/_frontends/renode_keywords.resource" in zipfile.ZipFile(wheel).namelist()
    (work / "renode_style.robot").write_text(textwrap.dedent("""
        *** Test Cases ***
        Hello
            Execute Command           mach create
            Execute Command           machine LoadPlatformDescription @platforms/cpus/stm32f413.repl
            Execute Command           sysbus LoadELF @${FW}/f413rg/hello.elf
            Create Terminal Tester    sysbus.usart1
            Wait For Line On Uart     uptime 1 s
        """))
    out = run([metersim, "test", "renode_style.robot", "--variable",
               f"FW:{REPO / 'build' / 'fw'}"], cwd=work, env=env)
    assert "Tests finished successfully :)" in out
    assert (work / "test-results" / "xunit.xml").is_file()
