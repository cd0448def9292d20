"""Power cuts during app upgrades on the emulated STM32F413 with the meter's boot chain: 50 cuts
at seeded random instants of an upgrade (YMODEM transfer, staging in NOR, the restart, the
bootloader's backup, the on-chip sector erase and programming, the trial start), each followed
by a power-on. Every restart must boot a working app, the old or the new one, never neither:
its start line on the console, its image in flash passing every check (on the host too), and
the upgrade journal ending in a settled state. The F4 flash model leaves a sector erase cut
part way part erased, the W25Q model a page program or sector erase half done."""

import random

from metersim._errors import EmulationTimeout, SetupError
from metersim._image import Kind, check_image
from metersim._image.elfimage import image_from_elf
from metersim._image.upgrade import UpgradeState, read_journal
from metersim._image.ymodem import UartPort, YmodemError, send_file
from metersim._orchestration.testers import TesterFailure

from tests.image.meter_board import PROMPT, boot_image, factory_image

SEED = 0x0B0071
CUTS = 50
# Where the cuts fall (ms after the `upgrade` command). An upgrade of app counter (1 844 bytes)
# takes: YMODEM transfer 0-344 (the download slot erased ahead of the data), staging in NOR
# until PENDING is recorded ~347, restart, backup ~362-503, on-chip sector erase and
# programming ~503-1523, trial start and confirmation ~1523-1576. Each cut picks one of these
# windows, then an instant in it: the short steps get their share.
WINDOWS_MS = [(0, 355), (335, 530), (1518, 1582), (0, 1605)]
APP_ADDR = 0x08060000
SETTLED = {UpgradeState.CONFIRMED, UpgradeState.ROLLED_BACK, UpgradeState.ABORTED}
PHASES = [("upgrade: send the image", "transfer"), ("upgrade: received", "staging"),
          ("upgrade: counter staged", "restart"),
          ("boot: upgrade counter: backing up", "backup"),
          ("boot: upgrade counter: programming", "programming"),
          ("boot: upgrade counter: new image on", "trial"), ("rtos: upgrade of counter", "done")]


def test_power_cuts_during_upgrades_always_leave_a_working_app(firmware, tmp_path):
    image = factory_image(tmp_path)
    nor = tmp_path / "nor.bin"
    emu, m, cap = boot_image(image, nor)
    cap.wait_for_prompt(PROMPT, timeout="2s")
    elf = firmware("f413rg", "app_counter")
    rng = random.Random(SEED)
    running = "1.0.0"
    outcomes = {"old": 0, "new": 0}
    phases: dict[str, int] = {}
    resumed = 0
    for cut in range(CUTS):
        new = f"2.{cut}.0"
        data = image_from_elf(elf, Kind.APP, "counter", new)
        start = len(cap.lines)
        lo_ms, hi_ms = rng.choice(WINDOWS_MS)
        cut_at = emu.now_ps + rng.randrange(lo_ms * 1000 + 1, hi_ms * 1000) * 1_000_000
        emu.clock.schedule_at(cut_at, m.power_off)
        try:
            cap.write_line("upgrade counter", wait_for_echo=False)
            cap.wait_for_line("upgrade: send the image of counter", timeout="200ms")
            send_file(UartPort(cap), "counter.img", data, start_timeout_s=0.5, reply_timeout_s=0.5,
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
        mark, text_mark = len(cap.lines), len(cap.text)
        m.power_on()
        emu.run_until(lambda: PROMPT in cap.text[text_mark:], timeout="6s",
                      what=f"the meter to come back after cut {cut} ({phase})")
        after = [ln.text for ln in cap.lines[mark:]]
        started = [t.split()[3] for t in after if t.startswith("loader: started counter ")]
        assert started and started[-1] in (running, new), \
            f"cut {cut} ({phase}): app versions started {started}, expected {running} or {new}\n" \
            + "\n".join(after)
        resumed += any(t.startswith("boot: upgrade counter:") for t in after)
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
