"""The board comes from the target the firmware build recorded in the ELF, not from its path."""

import shutil
import subprocess
from pathlib import Path

import pytest

from metersim._cli import EXIT_OK, EXIT_SETUP, main
from metersim._engine.firmware import Firmware
from metersim._errors import SetupError

REPO = Path(__file__).resolve().parents[2]


def test_every_built_program_records_its_target_part_and_core(firmware):
    for target, part, core in [("f103rb", "STM32F103RB", "cortex-m3"),
                               ("f413rg", "STM32F413RG", "cortex-m4f")]:
        for program in ("hello", "bad_access", "shell_demo"):
            fw = Firmware(firmware(target, program))
            assert (fw.target, fw.part, fw.core) == (target, part, core), program
            assert fw.board.part == part
    cabinet = Firmware(firmware("f103rb", "metering_controller"))
    assert cabinet.target == "f103rb" and cabinet.symbols.lookup("main")


def test_an_elf_copied_elsewhere_runs_on_the_board_it_was_built_for(firmware, tmp_path, capsys):
    copy = tmp_path / "myfw.elf"
    shutil.copy(firmware("f103rb", "hello"), copy)
    assert Firmware(copy).target == "f103rb"
    assert main(["run", str(copy), "--for", "1.1s"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "[f103] metersim hello on STM32F103RB" in out and "[f103] uptime 1 s" in out
    assert "core 8 MHz" in out and "f413" not in out


def strip_note(src: Path, dst: Path) -> Path:
    subprocess.run(["arm-none-eabi-objcopy", "--remove-section", ".note.metersim.target",
                    str(src), str(dst)], check=True)
    return dst


def test_an_elf_without_a_recorded_target_needs_a_platform(firmware, tmp_path, capsys):
    bare = strip_note(firmware("f413rg", "hello"), tmp_path / "other_build.elf")
    assert Firmware(bare).target is None
    assert main(["run", str(bare), "--for", "10ms"]) == EXIT_SETUP
    err = capsys.readouterr().err
    assert "no recorded build target" in err and "--platform" in err
    assert main(["run", str(bare), "--platform", "stm32f413", "--for", "1.1s"]) == EXIT_OK
    assert "uptime 1 s" in capsys.readouterr().out


@pytest.mark.parametrize("platform", ["stm32f413", "platforms/cpus/stm32f413.repl"])
def test_a_platform_that_contradicts_the_recorded_target_is_refused(firmware, platform, capsys):
    elf = firmware("f103rb", "hello")
    assert main(["run", "--platform", platform, str(elf), "--for", "10ms"]) == EXIT_SETUP
    err = capsys.readouterr().err
    assert "built for f103rb (STM32F103RB, cortex-m3)" in err   # what the ELF says
    assert "stm32f413.repl is a cortex-m4f, STM32F413" in err    # what the platform is


def test_a_same_core_platform_of_another_part_is_refused(firmware, capsys):
    elf = firmware("f103rb", "hello")
    assert main(["run", "--platform", "stm32f103rc", str(elf), "--for", "10ms"]) == EXIT_SETUP
    assert "STM32F103RC" in capsys.readouterr().err
    assert main(["run", "--platform", "stm32f103rb", str(elf), "--for", "1.1s"]) == EXIT_OK
    assert "uptime 1 s" in capsys.readouterr().out


def test_platform_short_names_and_unknown_names(firmware, capsys):
    assert main(["run", "--platform", "stm32f413", str(firmware("f413rg", "hello")),
                 "--until", "uptime 1 s"]) == EXIT_OK
    assert main(["run", "--platform", "stm32f999", str(firmware("f413rg", "hello"))]) == EXIT_SETUP
    err = capsys.readouterr().err
    assert "platform 'stm32f999' not found" in err and "stm32f413" in err


def test_gdb_builds_the_same_board_as_run(firmware, tmp_path):
    from metersim._frontends.gdb_stub import build_target
    copy = tmp_path / "somewhere.elf"
    shutil.copy(firmware("f103rb", "hello"), copy)
    _, m = build_target(str(copy))
    assert m.name == "f103" and m.cpu.core == "cortex-m3"
    with pytest.raises(SetupError, match="no recorded build target"):
        build_target(str(strip_note(firmware("f103rb", "hello"), tmp_path / "x.elf")))
