"""Campaign system `meter-dlt645`: seeded malformed DL/T645-2007 frames against the
new-generation meter (both units, `metersim.build_meter`) on RS-485 and on IR.

The spec's firmware is the management unit's RTOS image (meter_mu.elf); the factory image is
packed around it from platforms/images/meter_mu.yaml (the bootloader, the extended app and the
metrology unit's firmware are the built ones of this checkout, `make firmware`).

Each scenario boots one meter, changes its RS-485 rate to `baud`, then sends `frames` cases
from `metersim._meter.dlt645_fuzz.malformed_frames` (the share `ir_share` on IR at 1200 baud,
the rest on RS-485), in blocks of `check_every`: every byte the meter sends is checked against
the standard's answer (`run_fuzz`), and after each block a plain read must be answered on that
port (a hang shows as a read that never comes). At the end: one boot on the console, no
process killed and no kernel panic (a crash), the IWDG never expired (watchdog resets), and
the metrology unit's energy still reads right.

Figures: frames (per port), replies_due, abnormal_ok, wrong_replies (missing, unexpected or
late), hangs, crashes, watchdog_resets, restarts, straddled (cases whose first bytes finished
the previous case into a valid frame by chance: the meter's answer collides with the rest of
the case, so nothing is checked there; `dlt645_fuzz.straddling_frame`).
"""

from __future__ import annotations

import hashlib
import tempfile
from decimal import Decimal
from pathlib import Path

from metersim._campaign import fields as F
from metersim._campaign.spec_source import Source
from metersim._units import PS_PER_S

NAME = "meter-dlt645"
KEYS = {"firmware": "firmware name (the RTOS image meter_mu.elf)", "mode": "fuzz",
        "frames": "frames per scenario, both ports", "ir_share": "share of the frames sent on IR",
        "baud": "RS-485 rate during the campaign", "check_every": "frames between two plain reads",
        "repeat": "a label"}
VOLTAGE_V, ENERGY_KWH, POWER_W = 220.1, 1234.56, 1123.4
READ_VOLTAGE, READ_ENERGY = 0x02010100, 0x00010000      # DL/T645 data identifiers
CRASH_MARKS = ("killed:", "KERNEL PANIC")


def validate(src: Source, path: tuple, t, firmware_names: list[str]) -> dict:
    t = F.mapping(src, path, t, KEYS)
    fw_default = firmware_names[0] if len(firmware_names) == 1 else F.MISSING
    n = lambda k, d, lo, hi, integer=False: F.number(src, path + (k,), t.get(k, d), lo, hi, integer=integer)  # noqa: E731
    return {"firmware": F.choice(src, path + ("firmware",), F.get(src, t, path, "firmware", fw_default), firmware_names),
            "mode": F.choice(src, path + ("mode",), t.get("mode", "fuzz"), ["fuzz"]),
            "frames": n("frames", 1000, 1, 10_000_000, True),
            "ir_share": n("ir_share", 0.3, 0, 1),
            "baud": F.choice(src, path + ("baud",), t.get("baud", 19200), [1200, 2400, 4800, 9600, 19200]),
            "check_every": n("check_every", 500, 1, 10_000_000, True),
            "repeat": t.get("repeat", 0)}


def run(sc: dict, seed: int, elf_paths: dict) -> dict:
    import metersim
    from metersim._campaign.meter_system import factory_image
    from metersim._errors import MetersimError
    from metersim._meter.dlt645_fuzz import malformed_frames, run_fuzz

    digest = hashlib.sha1()
    emu = metersim.Emulation(seed=seed, wall_guard_s=600.0)
    with tempfile.TemporaryDirectory(prefix="metersim-meter-") as tmp:
        image = factory_image(str(elf_paths[sc["firmware"]]), Path(tmp))
        meter = metersim.build_meter(emu, image, voltage_V=VOLTAGE_V, current_A=POWER_W / VOLTAGE_V,
                                     power_W=POWER_W, energy_kWh=ENERGY_KWH)
    board = meter.mu
    rs485 = board["rs485Bus"].attach_host("reader", baud=2400, parity="E")
    con = metersim.capture_uart(board)
    con.expect("com: DL/T645-2007 on rs485", timeout="3s")
    masters = {"rs485": metersim.dlt645.Master(emu, rs485), "ir": metersim.dlt645.Master(emu, board["ir"])}
    masters["rs485"].change_baud(sc["baud"])
    ports = {"rs485": rs485, "ir": board["ir"]}

    n_ir = round(sc["frames"] * sc["ir_share"])
    plan = [("rs485", sc["frames"] - n_ir), ("ir", n_ir)]
    fig = {"frames": 0, "frames_rs485": 0, "frames_ir": 0, "replies_due": 0, "abnormal_ok": 0,
           "wrong_replies": 0, "hangs": 0, "straddled": 0}
    failures: list[str] = []
    for k, (name, count) in enumerate(plan):
        cases = list(malformed_frames(seed * 2 + k, count))
        for start in range(0, count, sc["check_every"]):
            block = cases[start:start + sc["check_every"]]
            rep = run_fuzz(emu, ports[name], block)
            fig["frames"] += rep.sent
            fig[f"frames_{name}"] += rep.sent
            fig["replies_due"] += rep.replies_due
            fig["abnormal_ok"] += rep.abnormal_ok
            fig["straddled"] += rep.straddled
            bad = len(rep.missing) + len(rep.wrong) + bool(rep.trailing)
            fig["wrong_replies"] += bad
            digest.update(repr((name, start, rep.summary(), [g for _, g in rep.wrong],
                                rep.trailing)).encode())
            if bad and len(failures) < 20:
                failures += [f"{name}: no reply to {c.kind} {c.raw.hex(' ')}" for c in rep.missing[:3]]
                failures += [f"{name}: {c.kind} {c.raw.hex(' ')} answered {got.hex(' ')}"
                             for c, got in rep.wrong[:3]]
                if rep.trailing:
                    failures.append(f"{name}: sent after its last case: {rep.trailing.hex(' ')}")
            try:
                v = masters[name].read_value(READ_VOLTAGE)
                if v != Decimal(str(VOLTAGE_V)):
                    raise MetersimError(f"voltage read {v}, expected {VOLTAGE_V}")
            except MetersimError as e:
                fig["hangs"] += 1
                failures.append(f"hang: no right answer to a plain read on {name} after frame "
                                f"{start + len(block)}: {e}")
                break
    text = con.text
    fig["crashes"] = sum(text.count(m) for m in CRASH_MARKS)
    fig["restarts"] = text.count("meter management unit on") - 1
    fig["watchdog_resets"] = board["iwdg"].expiries
    if fig["crashes"]:
        failures.append(f"{fig['crashes']} crash(es) on the console: "
                        + next(line for line in text.splitlines() if any(m in line for m in CRASH_MARKS)))
    if fig["restarts"] or fig["watchdog_resets"] or not board["iwdg"].running:
        failures.append(f"the meter restarted {fig['restarts']} time(s), watchdog expiries "
                        f"{fig['watchdog_resets']}, watchdog running {board['iwdg'].running}")
    # the metrology unit metered the load all along (the register moves in 0.01 kWh steps)
    metered_kWh = ENERGY_KWH + POWER_W / 1000 * (emu.now_ps / PS_PER_S) / 3600
    try:
        got_kWh = float(masters["ir"].read_value(READ_ENERGY))
        if abs(got_kWh - metered_kWh) > 0.011:
            failures.append(f"energy {got_kWh} kWh after the campaign, metered {metered_kWh:.4f} kWh")
    except MetersimError as e:
        failures.append(f"hang: no energy read at the end: {e}")
    digest.update(text.encode())
    instructions = board.cpu.instructions + meter.unit.machine.cpu.instructions
    digest.update(repr(instructions).encode())
    return {"passed": not failures, "failures": failures, "figures": fig,
            "virtual_s": emu.now_ps / PS_PER_S, "instructions": instructions,
            "trace_sha1": digest.hexdigest(), "artefacts": {"console.txt": text.encode()}}
