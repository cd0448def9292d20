"""Campaign system `query-manager`: the cabinet's query manager (STM32F103RC) polling a 4-room
metering controller on RS-485 with the server down, so every reading waits in its outage ring
in the AT24C256 (docs/firmware_query_manager.md, "Buffer"); its supply is cut at seeded
instants (the power orchestration's VDD sag, hold-up, power off, back on), some of them inside
the EEPROM write cycle of a record or of the ring's header.

The server would shorten the reading period with `PERIOD`; it is down here, so the period
(`period_s`, the firmware's g_report_ms / g_offline_ms) is set through the debug port at
every start, as the link's command would, and the first snapshot made due at once.

After every cut the query manager must start again and its ring be intact and in order: a
valid header, every reading kept held with a valid CRC under its own number, the snapshot
times never going backwards, and every reading the header counted before the cut still there
with the same bytes (the server never acknowledged any, so none may go).
"""

from __future__ import annotations

import hashlib
import random
import re
import struct

from metersim._campaign import fields as F
from metersim._campaign.spec_source import Source
from metersim._units import PS_PER_MS, PS_PER_S

NAME = "query-manager"
KINDS = ("plain", "eeprom_write")
KEYS = {"firmware": "the query manager's ELF", "period_s": "reading period",
        "cuts": "power cuts", "repeat": "a label"}
START_TIMEOUT_PS = 5 * PS_PER_S
# the ring (qm_store.h)
HDR = struct.Struct("<4sIII")
BASE, REC_BYTES, CAP = 128, 41, 796
MOUNTED = re.compile(r"net: buffer in the EEPROM: readings (\d+)\.\.(\d+) kept, \d+ places\r?\n")


def validate(src: Source, path: tuple, t, firmware_names: list[str]) -> dict:
    t = F.mapping(src, path, t, KEYS)
    fw_default = firmware_names[0] if len(firmware_names) == 1 else F.MISSING
    out = {"firmware": F.choice(src, path + ("firmware",), F.get(src, t, path, "firmware", fw_default),
                                firmware_names)}
    out["period_s"] = F.number(src, path + ("period_s",), t.get("period_s", 1), 1, 86400, integer=True)
    out["cuts"] = F.power_cuts(src, path + ("cuts",), F.get(src, t, path, "cuts"), KINDS, ["0.2s", "3s"])
    if "repeat" in t:
        out["repeat"] = t["repeat"]
    return out


def modbus_crc16(data: bytes) -> int:
    crc = 0xFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def read_ring(image: bytes) -> tuple[tuple[int, int] | None, dict[int, bytes], list[str]]:
    """((first, next) of the newest valid header copy or None, {seq: record bytes} of the
    numbers first..next-1, problems found among them)."""
    best = None
    for c in (0, 1):
        raw = image[64 * c:64 * c + 18]
        magic, gen, first, nxt = HDR.unpack(raw[:16])
        if magic == b"QMLG" and int.from_bytes(raw[16:18], "little") == modbus_crc16(raw[:16]):
            if best is None or (gen - best[0]) % (1 << 32) < (1 << 31):
                best = (gen, first, nxt)
    if best is None:
        return None, {}, ["no valid header copy"]
    _, first, nxt = best
    recs, bad, prev_s = {}, [], None
    if not 0 <= nxt - first <= CAP:
        return (first, nxt), {}, [f"header: {nxt - first} readings kept, the ring holds {CAP}"]
    for seq in range(first, nxt):
        raw = image[BASE + seq % CAP * REC_BYTES:][:REC_BYTES]
        if int.from_bytes(raw[39:41], "little") != modbus_crc16(raw[:39]):
            bad.append(f"reading {seq}: bad CRC")
            continue
        n, secs = struct.unpack_from("<II", raw)
        if n != seq:
            bad.append(f"reading {seq}: holds number {n}")
        elif prev_s is not None and secs < prev_s:
            bad.append(f"reading {seq}: time {secs} before the reading before it ({prev_s})")
        prev_s = secs
        recs[seq] = raw
    return (first, nxt), recs, bad


def run(sc: dict, seed: int, elf_paths: dict) -> dict:
    from metersim._cabinet.board import new_bus
    from metersim._cabinet.query_manager import build_controllers, build_query_manager
    from metersim._engine.emulation import Emulation
    from metersim._orchestration.power import SUPPLY_NOMINAL_V, supply_of
    from metersim._resources import firmware_path

    pc = sc["cuts"]
    emu = Emulation(seed=seed, wall_guard_s=600.0)
    bus = new_bus(emu)
    qm = build_query_manager(emu, bus)
    qm.machine.power_off()
    build_controllers(emu, bus, [(1, 4)], firmware_path("f103rb", "metering_controller"))
    qm.load_firmware(elf_paths[sc["firmware"]])
    m, ee, con = qm.machine, qm.eeprom, qm.console
    pwr = supply_of(m)
    rng = random.Random(seed * 1_000_003 + 53)
    failures: list[str] = []
    figures = {"cuts": 0, "cuts_plain": 0, "cuts_eeprom_write": 0, "cuts_in_eeprom_write": 0,
               "starts_checked": 0, "max_readings_kept": 0, "corrupted_records": 0, "lost_readings": 0}

    def start(mark: int) -> bool:
        """Up to the ring's mount, then the period set as the server's PERIOD would."""
        if not emu.run_until_time(emu.now_ps + START_TIMEOUT_PS,
                                  until=lambda: MOUNTED.search(con.text, mark)):
            return False
        period_ms = sc["period_s"] * 1000
        m.write_u32(m.symbol("g_report_ms"), period_ms)
        m.write_u32(m.symbol("g_offline_ms"), period_ms)
        m.write_u32(m.symbol("g_snap_at"), 0)         # due now: the first after the first round
        # polling resumes (the controller answers again) before the next cut
        return emu.run_until_time(emu.now_ps + START_TIMEOUT_PS,
                                  until=lambda: "poll: first round done" in con.text[mark:])

    m.power_on()
    if not start(0):
        return _result(emu, qm, ["the query manager did not start"], figures)
    names = list(KINDS)
    weights = [pc["kinds"][k] for k in names]
    for i in range(pc["count"]):
        kind = rng.choices(names, weights)[0]
        emu.run_until_time(emu.now_ps + rng.randrange(*pc["gap_ps"]))
        holdup = round(pc["holdup_ms"] * PS_PER_MS)
        if kind == "eeprom_write":
            # a record's or the header's write cycle (a snapshot every period_s); the supply
            # is gone at a seeded instant inside it
            if emu.run_until_time(emu.now_ps + (sc["period_s"] + 1) * PS_PER_S, until=lambda: ee.busy):
                pwr.set_supply_V(2.0)
                emu.run_until_time(ee.write_cycles[-1][0] + rng.randrange(1, ee.write_cycle_ps))
                figures["cuts_in_eeprom_write"] += 1
            else:
                pwr.set_supply_V(2.0)
        else:
            pwr.set_supply_V(2.0)
            emu.run_until_time(emu.now_ps + holdup)
        before, kept, _ = read_ring(bytes(ee.read_image()))
        m.power_off()
        figures["cuts"] += 1
        figures[f"cuts_{kind}"] += 1
        emu.run_until_time(emu.now_ps + round(pc["off_ms"] * PS_PER_MS))
        pwr.set_supply_V(SUPPLY_NOMINAL_V)
        mark = len(con.text)
        m.power_on()
        where = f"cut {i + 1} ({kind}) at {emu.now_ps / PS_PER_S:.3f} s"
        if not start(mark):
            failures.append(f"{where}: the query manager did not start again and poll a round")
            break
        figures["starts_checked"] += 1
        kept_fw = [int(x) for x in MOUNTED.search(con.text, mark).groups()]
        after, recs, bad = read_ring(bytes(ee.read_image()))
        if after is not None and before is not None:
            if after[0] != before[0]:
                bad.append(f"the oldest reading moved from {before[0]} to {after[0]} with no ACK")
            lost = [s for s in kept if recs.get(s) != kept[s]]
            figures["lost_readings"] += len(lost)
            if lost:
                bad.append(f"{len(lost)} readings counted before the cut lost or changed: {lost[:5]}")
            if kept_fw[0] != after[0] or kept_fw[1] + 1 < after[1]:
                bad.append(f"the firmware keeps readings {kept_fw[0]}..{kept_fw[1]}, its header "
                           f"says {after[0]}..{after[1] - 1}")
            figures["max_readings_kept"] = max(figures["max_readings_kept"], after[1] - after[0])
        figures["corrupted_records"] += len(bad)
        failures += [f"{where}: {b}" for b in bad]
    emu.run_until_time(emu.now_ps + 2 * sc["period_s"] * PS_PER_S)
    if "poll: first round done" not in con.text:
        failures.append("the query manager never finished a polling round")
    return _result(emu, qm, failures, figures)


def _result(emu, qm, failures: list[str], figures: dict) -> dict:
    digest = hashlib.sha1()
    image = bytes(qm.eeprom.read_image())
    digest.update(qm.console.text.encode() + image)
    digest.update(repr(qm.machine.cpu.instructions).encode())
    return {"passed": not failures, "failures": failures, "virtual_s": emu.now_ps / PS_PER_S,
            "instructions": qm.machine.cpu.instructions, "trace_sha1": digest.hexdigest(),
            "figures": figures,
            "artefacts": {"console.txt": qm.console.text.encode(), "eeprom.bin": image}}
