"""Power cuts during app upgrades on the emulated STM32F413 with the meter's boot chain: 50 cuts
at seeded random instants of an upgrade (YMODEM transfer, staging in NOR, the restart, the
bootloader's backup, the on-chip sector erase and programming, the trial start), each followed
by a power-on. Every restart must boot a working app, the old or the new one, never neither:
its start line on the console, its image in flash passing every check (on the host too), and
the upgrade journal ending in a settled state. The F4 flash model leaves a sector erase cut
part way part erased, the W25Q model a page program or sector erase half done."""

import random

from metersim.errors import EmulationTimeout, SetupError
from metersim.image import Kind, check_image
from metersim.image.elfimage import image_from_elf
from metersim.image.upgrade import UpgradeState, read_journal
from metersim.image.ymodem import UartPort, YmodemError, send_file
from metersim.orchestration.testers import TesterFailure

from tests.image.meter_board import boot_image, factory_image

SEED = 0x0B0071
CUTS = 50
# Where the cuts fall (ms after the `upgrade` command). An upgrade of the demo app takes: YMODEM
# transfer 0-63, staging in NOR until PENDING is recorded ~110, restart, backup ~120-200,
# on-chip sector erase and programming ~200-1206, trial start and confirmation ~1206-1230.
# Each cut picks one of these windows, then an instant in it: the short steps get their share.
WINDOWS_MS = [(0, 120), (110, 240), (1195, 1235), (0, 1300)]
APP_ADDR = 0x08060000
SETTLED = {UpgradeState.CONFIRMED, UpgradeState.ROLLED_BACK, UpgradeState.ABORTED}
PHASES = [("upgrade: send the image", "transfer"), ("upgrade: received", "staging"),
          ("upgrade: demo staged", "restart"), ("boot: upgrade demo: backing up", "backup"),
          ("boot: upgrade demo: programming", "programming"), ("boot: upgrade demo: new image on", "trial"),
          ("rtos: upgrade of demo", "done")]


def test_power_cuts_during_upgrades_always_leave_a_working_app(firmware, tmp_path):
    image = factory_image(tmp_path)
    nor = tmp_path / "nor.bin"
    emu, m, cap = boot_image(image, nor)
    cap.wait_for_line("rtos: ready", timeout="2s")
    elf = firmware("f413rg", "demo_app")
    rng = random.Random(SEED)
    running = "1.0.0"
    outcomes = {"old": 0, "new": 0}
    phases: dict[str, int] = {}
    resumed = 0
    for cut in range(CUTS):
        new = f"2.{cut}.0"
        data = image_from_elf(elf, Kind.APP, "demo", new)
        start = len(cap.lines)
        lo_ms, hi_ms = rng.choice(WINDOWS_MS)
        cut_at = emu.now_ps + rng.randrange(lo_ms * 1000 + 1, hi_ms * 1000) * 1_000_000
        emu.clock.schedule_at(cut_at, m.power_off)
        try:
            cap.write_line("upgrade demo", wait_for_echo=False)
            cap.wait_for_line("upgrade: send the image of demo", timeout="200ms")
            send_file(UartPort(cap), "demo.img", data, start_timeout_s=0.5, reply_timeout_s=0.5,
                      max_retries=1)
        except (YmodemError, EmulationTimeout, TesterFailure, SetupError):  # cut meanwhile
            assert not m.powered or emu.now_ps >= cut_at, cap.report()
        if emu.now_ps < cut_at:
            emu.run_until_time(cut_at)
        assert not m.powered
        before = [ln.text for ln in cap.lines[start:]]
        phase = next((name for key, name in reversed(PHASES)
                      if any(t.startswith(key) for t in before)), "command")
        phases[phase] = phases.get(phase, 0) + 1
        emu.run_for("20ms")
        mark = len(cap.lines)
        m.power_on()
        emu.run_until(lambda: any(ln.text == "rtos: ready" for ln in cap.lines[mark:]),
                      timeout="6s", what=f"the meter to come back after cut {cut} ({phase})")
        after = [ln.text for ln in cap.lines[mark:]]
        started = [t.split()[2] for t in after if t.startswith("app demo ") and
                   t.endswith(" running")]
        assert started and started[-1] in (running, new), \
            f"cut {cut} ({phase}): app versions started {started}, expected {running} or {new}\n" \
            + "\n".join(after)
        resumed += any(t.startswith("boot: upgrade demo:") for t in after)
        # the host's view: the app in flash checks and is the one that started; the journal
        # has settled
        flash = m.sysbus.read_memory(APP_ADDR, 0x20000)
        assert check_image(flash, run_addr=APP_ADDR, kind=Kind.APP).version_str == started[-1]
        journal = read_journal(nor.read_bytes())
        assert not journal or journal[-1].state in SETTLED, (cut, phase, journal[-1])
        outcomes["new" if started[-1] == new else "old"] += 1
        running = started[-1]
    print(f"outcomes {outcomes}; cut during {phases}; {resumed} restarts finished an upgrade step")
    # the seeded instants reach the transfer and the bootloader's flash work alike, and both
    # outcomes happen
    assert outcomes["old"] >= 5 and outcomes["new"] >= 5, outcomes
    assert phases.get("programming", 0) + phases.get("backup", 0) >= 5, phases
    assert phases.get("trial", 0) >= 2, phases
    assert phases.get("transfer", 0) + phases.get("staging", 0) + phases.get("command", 0) >= 3
