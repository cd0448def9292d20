"""The command line's options do what --help says: distinct exit codes, --until without --for,
-e after loading an ELF, -v anywhere, per-command examples, --version, completion, --json."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from metersim._cli import EXIT_OK, EXIT_SETUP, EXIT_TIMEOUT, EXIT_USAGE, main
from metersim._exit_codes import EXIT_CODES

REPO = Path(__file__).resolve().parents[2]


def test_every_outcome_has_its_own_exit_code(firmware, capsys):
    assert len(set(EXIT_CODES)) == len(EXIT_CODES) == 8
    assert main(["run", "--no-such-option", str(firmware("f413rg", "hello"))]) == EXIT_USAGE
    assert "unrecognized arguments: --no-such-option" in capsys.readouterr().err
    assert main([]) == EXIT_USAGE
    assert main(["run", str(firmware("f413rg", "hello")), "--until", "never printed",
                 "--for", "20ms"]) == EXIT_TIMEOUT
    assert EXIT_USAGE != EXIT_TIMEOUT
    assert main(["run", str(firmware("f413rg", "hello")), "--for", "soon"]) == EXIT_SETUP
    assert "cannot read 'soon' as a duration" in capsys.readouterr().err


def test_help_lists_the_exit_codes(capsys):
    assert main(["--help"]) == EXIT_OK
    out = capsys.readouterr().out
    for code, what in EXIT_CODES.items():
        assert f"{code} {what}" in out


# the earliest instant each text can appear: systick_rate's PASS follows 1,000 ticks of 1 ms
# and 50 of 10 ms (then its period measurements); hello prints "uptime 2 s" at 2 s
@pytest.mark.parametrize("argv, expected, earliest_s", [
    (["run", "build/fw/f413rg/systick_rate.elf", "--until", "PASS"], "[f413] PASS", 1.5),
    (["run", "--platform", "platforms/cpus/stm32f103rb.repl", "build/fw/f103rb/hello.elf",
      "--until", "uptime 2 s"], "uptime 2 s", 2.0),
    (["run", "platforms/scenes/two_boards.resc", "--until", "uptime 2 s"], "uptime 2 s", 2.0),
])
def test_until_without_for_waits_past_the_default_second(argv, expected, earliest_s, firmware,
                                                         capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    assert main(argv) == EXIT_OK
    out = capsys.readouterr().out
    assert expected in out
    virtual_s = float(out.split("virtual time ")[1].split()[0])
    # past the 1 s default of --for, and stopped at the text, not at --until's 60 s limit
    assert earliest_s <= virtual_s < earliest_s + 0.25
    console = [ln for ln in out.splitlines() if ln.startswith("[")]
    assert expected in console[-1]    # the run stopped at that line, printing nothing after it


def test_until_gives_up_after_its_stated_default(firmware, capsys):
    assert main(["run", str(firmware("f413rg", "hello")), "--until", "never printed"]) == EXIT_TIMEOUT
    assert "not met within 60.000000 s of virtual time" in capsys.readouterr().err
    assert main(["run", "--help"]) == EXIT_OK
    assert "with --until: at most 60s" in " ".join(capsys.readouterr().out.split())


def test_execute_runs_monitor_commands_after_loading_an_elf(firmware, capsys):
    elf = firmware("f413rg", "hello")
    entry = f"0x{int.from_bytes(elf.read_bytes()[0x18:0x1c], 'little') & ~1:x}"
    assert main(["run", str(elf), "-e", "cpu PC", "-e", "sysbus WriteDoubleWord 0x20000000 0x1234",
                 "-e", "sysbus ReadDoubleWord 0x20000000", "--for", "1ms"]) == EXIT_OK
    out = capsys.readouterr().out.splitlines()
    assert out[0] == entry             # the core sits at the reset handler: firmware loaded
    assert int(out[1], 16) == 0x1234
    assert main(["run", str(elf), "-e", "no such command"]) == EXIT_SETUP


def test_platform_with_a_scene_is_refused(capsys):
    rc = main(["run", str(REPO / "platforms/scenes/hello_f413.resc"), "--platform", "stm32f413"])
    assert rc == EXIT_SETUP
    assert "--platform stm32f413 does not apply to a scene" in capsys.readouterr().err


@pytest.mark.parametrize("where", ["before", "after"])
def test_verbose_works_before_and_after_the_command(firmware, where):
    args = ["run", str(firmware("f413rg", "hello")), "--for", "1ms"]
    args = ["-v", *args] if where == "before" else [*args, "-v"]
    proc = subprocess.run([sys.executable, "-m", "metersim", *args], capture_output=True,
                          text=True, timeout=120, cwd=REPO)
    assert proc.returncode == EXIT_OK, proc.stderr
    assert "INFO " in proc.stderr


def test_each_command_shows_its_own_examples(capsys):
    helps = {}
    for cmd in (["run"], ["trace"], ["cabinet"], ["bench"], ["gdb"], ["platform", "show"]):
        assert main([*cmd, "--help"]) == EXIT_OK
        helps[" ".join(cmd)] = capsys.readouterr().out
    assert "metersim run build/fw/f413rg/hello.elf --for 3s" in helps["run"]
    assert "metersim cabinet --hours 2 --check 0.2" in helps["cabinet"]
    assert "metersim trace build/fw/f413rg/hello.elf" in helps["trace"]
    for name, text in helps.items():   # no command repeats another's examples
        others = [c for c in helps if c != name and c != "platform show"]
        assert not any(f"metersim {o} " in text.split("examples:")[1] for o in others), name


def test_version(capsys):
    assert main(["--version"]) == EXIT_OK
    import metersim
    assert capsys.readouterr().out.startswith(f"metersim {metersim.__version__} (unicorn 2.1.4)")


def test_completion_script_and_completions(tmp_path):
    script = subprocess.run([sys.executable, "-m", "metersim", "completion", "bash"],
                            capture_output=True, text=True, timeout=60, cwd=REPO)
    assert script.returncode == 0 and "complete " in script.stdout and "metersim" in script.stdout
    out = tmp_path / "completions"
    line = "metersim ca"
    env = dict(os.environ, _ARGCOMPLETE="1", _ARGCOMPLETE_SHELL="bash", COMP_LINE=line,
               COMP_POINT=str(len(line)), _ARGCOMPLETE_STDOUT_FILENAME=str(out), _ARGCOMPLETE_IFS="\n")
    subprocess.run([sys.executable, "-m", "metersim"], env=env, timeout=60, cwd=REPO,
                   capture_output=True)
    assert out.read_text().split() == ["cabinet", "campaign"]   # the commands starting "ca"


def test_run_json_summary(firmware, capsys):
    assert main(["run", str(firmware("f413rg", "hello")), "--for", "2.1s", "--json"]) == EXIT_OK
    cap = capsys.readouterr()
    doc = json.loads(cap.out)
    assert doc["exit_code"] == 0 and doc["exit_reason"] == "completed"
    assert doc["virtual_time_s"] == pytest.approx(2.1)
    assert doc["machines"][0]["name"] == "f413" and doc["machines"][0]["instructions"] > 1000
    texts = [ln["text"] for ln in doc["uart_lines"]]
    assert "uptime 2 s" in texts and "[f413] uptime 2 s" in cap.err    # console on stderr
    up2 = doc["uart_lines"][texts.index("uptime 2 s")]
    assert up2["machine"] == "f413" and 2.0 < up2["time_s"] < 2.01


def test_run_json_on_failure_says_why(firmware, capsys):
    assert main(["run", str(firmware("f413rg", "hello")), "--until", "never", "--for", "20ms",
                 "--json"]) == EXIT_TIMEOUT
    doc = json.loads(capsys.readouterr().out)
    assert doc["exit_code"] == EXIT_TIMEOUT and doc["exit_reason"] == "timeout"
    assert "not met" in doc["error"] and doc["virtual_time_s"] == pytest.approx(0.02)


def test_trace_json_names_its_artefacts(firmware, tmp_path, capsys):
    pcap, vcd = tmp_path / "t.pcap", tmp_path / "t.vcd"
    assert main(["trace", str(firmware("f413rg", "hello")), "--for", "1.1s", "--pcap", str(pcap),
                 "--vcd", str(vcd), "--json"]) == EXIT_OK
    doc = json.loads(capsys.readouterr().out)
    assert doc["artefacts"] == {"pcap": str(pcap), "vcd": str(vcd)}
    assert pcap.stat().st_size > 0 and vcd.stat().st_size > 0
    assert "uptime 1 s" in [ln["text"] for ln in doc["uart_lines"]]
