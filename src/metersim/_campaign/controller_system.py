"""Campaign system `controller`: the prepaid cabinet's metering controller (STM32F103RB, ADE7753
rooms behind relays, EEPROM, Modbus RTU on RS-485), built and driven with the cabinet's public
functions (build_controller, standard_rooms/attach_rooms/prepare_rooms, power_cut, the Modbus
master, reference_energy_Wh).

A scenario: boot, Modbus set-up (credit, price, room settings), then faults at virtual times
counted from power-on (power cuts at given or seeded random times, RS-485 noise bursts at
seeded random times), run to `duration`, read every room back over Modbus and check energy
against the reference, trips and that the controller answers. The trace hash covers every
byte on the RS-485 line with its timing, the console, the EEPROM image, relay histories, the
energies read back and the instruction count.
"""

from __future__ import annotations

import hashlib
import random

from metersim._campaign import fields as F
from metersim._campaign.spec_source import Source
from metersim._protocols.modbus.registers import TRIP_REASONS
from metersim._units import PS_PER_MS, PS_PER_S

NAME = "controller"
REBOOT_MARGIN_PS = 2500 * PS_PER_MS      # a restart and a metering cycle before the end
READ_MARGIN_PS = 200 * PS_PER_MS         # default noise stops this long before the read-back
CUT_READ_LEAD_PS = 300 * PS_PER_MS       # energies read this long before a cut (loss per cut)
ROOM_SETTINGS = {"alarm1_cents": "int", "alarm2_cents": "int", "overdraft_cents": "int",
                 "load_limit_W": "int", "overload_delay_s": "int", "overcurrent_cA": "int",
                 "reclose_delay_s": "int", "reclose_attempts": "int", "malicious_detect": "bool"}
KEYS = {"firmware": "firmware name", "duration": "virtual time", "boot": "boot time",
        "channels": "4 or 32", "credit_cents": "credit per room", "price_cents_per_kWh": "flat price",
        "settings": "room settings", "loads": "room loads", "faults": "faults", "checks": "checks",
        "repeat": "a label (runs that differ only in it must give identical traces)"}


# ---- validation -------------------------------------------------------------------------------

def validate(src: Source, path: tuple, t, firmware_names: list[str]) -> dict:
    t = F.mapping(src, path, t, KEYS)
    fw_default = firmware_names[0] if len(firmware_names) == 1 else F.MISSING
    out = {"firmware": F.choice(src, path + ("firmware",), F.get(src, t, path, "firmware", fw_default),
                                firmware_names)}
    boot = F.duration_ps(src, path + ("boot",), t.get("boot", "1.5s"))
    dur = F.duration_ps(src, path + ("duration",), F.get(src, t, path, "duration"), lo_ps=boot)
    out.update(boot_ps=boot, duration_ps=dur)
    ch = out["channels"] = F.choice(src, path + ("channels",), t.get("channels", 4), [4, 32])
    out["credit_cents"] = F.number(src, path + ("credit_cents",), t.get("credit_cents", 1_000_000),
                                   0, 0xFFFF_FFFF, integer=True)
    price = t.get("price_cents_per_kWh")
    out["price_cents_per_kWh"] = None if price is None else F.number(
        src, path + ("price_cents_per_kWh",), price, 1, 0xFFFF, integer=True)
    sp = path + ("settings",)
    settings = F.mapping(src, sp, t.get("settings", {}), ROOM_SETTINGS)
    out["settings"] = {k: (F.boolean(src, sp + (k,), v) if ROOM_SETTINGS[k] == "bool"
                           else F.number(src, sp + (k,), v, 0, 0xFFFF_FFFF, integer=True))
                       for k, v in sorted(settings.items())}
    out["loads"] = _loads(src, path + ("loads",), t.get("loads", {"standard": {}}), ch)
    setup_end = boot          # faults due during the Modbus set-up happen right after it
    out["faults"] = _faults(src, path + ("faults",), t.get("faults", {}), setup_end, dur)
    out["checks"] = _checks(src, path + ("checks",), t.get("checks", {}), ch)
    if "repeat" in t:          # kept so that repeats are distinct scenarios (ids) of one seed
        out["repeat"] = t["repeat"]
    return out


def _loads(src, path, v, channels) -> dict:
    v = F.mapping(src, path, v, {"standard": "", "constant": ""})
    out = {"standard": None, "constant": []}
    if v.get("standard") not in (None, False):
        sp = path + ("standard",)
        s = F.mapping(src, sp, {} if v["standard"] is True else v["standard"],
                      {"rooms": "", "power_W": "", "offset_s": "", "hours": ""})
        out["standard"] = {
            "rooms": F.number(src, sp + ("rooms",), s.get("rooms", channels), 1, channels, integer=True),
            "power_W": F.number(src, sp + ("power_W",), s.get("power_W", 1500.0), 0, 20000, lo_open=True),
            "offset_s": F.number(src, sp + ("offset_s",), s.get("offset_s", 600.0), 0, 86400),
            "hours": F.number(src, sp + ("hours",), s.get("hours", 24.0), 0, 24 * 366, lo_open=True)}
    cp = path + ("constant",)
    seen = set()
    for i, c in enumerate(F.sequence(src, cp, v.get("constant", []), "a list of {room, power_W, pf}")):
        c = F.mapping(src, cp + (i,), c, {"room": "", "power_W": "", "pf": ""})
        room = F.number(src, cp + (i, "room"), F.get(src, c, cp + (i,), "room"), 0, channels - 1, integer=True)
        if room in seen:
            src.fail(cp + (i, "room"), "each room once", room)
        seen.add(room)
        out["constant"].append({
            "room": room,
            "power_W": F.number(src, cp + (i, "power_W"), F.get(src, c, cp + (i,), "power_W"), 0, 20000),
            "pf": F.number(src, cp + (i, "pf"), c.get("pf", 1.0), 0, 1, lo_open=True)})
    if out["standard"] is None and not out["constant"]:
        src.fail(path, "standard rooms, constant loads or both", v)
    return out


def _window(src, path, v, lo_ps, hi_ps, what) -> list[int]:
    pair = F.sequence(src, path, v, "[from, to], two durations")
    if len(pair) != 2:
        src.fail(path, "[from, to], two durations", v)
    a, b = (F.duration_ps(src, path + (k,), pair[k]) for k in (0, 1))
    if not lo_ps <= a < b <= hi_ps:
        src.fail(path, f"{what} within {lo_ps / PS_PER_S:g} s .. {hi_ps / PS_PER_S:g} s, from < to", v)
    return [a, b]


def _faults(src, path, v, setup_end_ps, dur_ps) -> dict:
    v = F.mapping(src, path, v, {"power_cuts": "", "bus_noise": ""})
    out = {"power_cuts": None, "bus_noise": None}
    if v.get("power_cuts"):
        cp = path + ("power_cuts",)
        c = F.mapping(src, cp, v["power_cuts"], {"at": "", "random": "", "between": "",
                                                 "holdup_ms": "", "off_ms": "", "in_eeprom_write": ""})
        holdup = F.number(src, cp + ("holdup_ms",), c.get("holdup_ms", 20.0), 0, 1000, lo_open=True)
        off = F.number(src, cp + ("off_ms",), c.get("off_ms", 700.0), 0, 60000, lo_open=True)
        last = dur_ps - REBOOT_MARGIN_PS - round((holdup + off) * PS_PER_MS)
        if last <= setup_end_ps:
            src.fail(path + ("power_cuts",), f"a duration long enough for a cut: boot "
                     f"({setup_end_ps / PS_PER_S:g} s), hold-up, outage and 2.5 s to restart",
                     has_value=False)
        at = []
        for i, a in enumerate(F.sequence(src, cp + ("at",), c.get("at", []), "a list of durations")):
            t = F.duration_ps(src, cp + ("at", i), a)
            if not setup_end_ps <= t <= last:
                src.fail(cp + ("at", i), f"a time within {setup_end_ps / PS_PER_S:g} s .. "
                         f"{last / PS_PER_S:g} s (after boot, and the outage over 2.5 s before the end)", a)
            at.append(t)
        n = F.number(src, cp + ("random",), c.get("random", 0), 0, 1000, integer=True)
        between = _window(src, cp + ("between",), c["between"], setup_end_ps, last, "times") \
            if "between" in c else [setup_end_ps, last]
        if not at and not n:
            src.fail(cp, "`at` times or a `random` count", c)
        in_write = F.number(src, cp + ("in_eeprom_write",), c.get("in_eeprom_write", 0.0), 0, 1)
        out["power_cuts"] = {"at": sorted(at), "random": n, "between": between,
                             "holdup_ms": holdup, "off_ms": off, "last_ps": last, "in_eeprom_write": in_write}
    if v.get("bus_noise"):
        np_ = path + ("bus_noise",)
        if dur_ps - READ_MARGIN_PS <= setup_end_ps:
            src.fail(np_, f"a scenario longer than boot + {READ_MARGIN_PS / PS_PER_S:g} s for noise "
                     f"(none in the last {READ_MARGIN_PS / PS_PER_S:g} s, when the rooms are read back)",
                     has_value=False)
        b = F.mapping(src, np_, v["bus_noise"], {"bursts": "", "duration_ms": "", "between": ""})
        out["bus_noise"] = {
            "bursts": F.number(src, np_ + ("bursts",), F.get(src, b, np_, "bursts"), 1, 10000, integer=True),
            "duration_ms": F.number(src, np_ + ("duration_ms",), b.get("duration_ms", 2.0), 0, 10000, lo_open=True),
            "between": _window(src, np_ + ("between",), b["between"], setup_end_ps, dur_ps, "times")
            if "between" in b else [setup_end_ps, dur_ps - READ_MARGIN_PS]}
    return out


def _checks(src, path, v, channels) -> dict:
    v = F.mapping(src, path, v, {"energy": "", "trips": "", "modbus": "", "records": "",
                                 "max_loss_Wh_per_cut": ""})
    out = {"energy": None, "trips": None, "modbus": True,
           "records": F.boolean(src, path + ("records",), v.get("records", False)),
           "max_loss_Wh_per_cut": None if v.get("max_loss_Wh_per_cut") is None else F.number(
               src, path + ("max_loss_Wh_per_cut",), v["max_loss_Wh_per_cut"], 0, 1e6)}
    if v.get("energy", {}) not in (None, False):
        ep = path + ("energy",)
        e = F.mapping(src, ep, {} if v.get("energy", {}) is True else v.get("energy", {}),
                      {"tolerance_pct": "", "abs_Wh": ""})
        out["energy"] = {"tolerance_pct": F.number(src, ep + ("tolerance_pct",), e.get("tolerance_pct", 0.5), 0, 100),
                         "abs_Wh": F.number(src, ep + ("abs_Wh",), e.get("abs_Wh", 2.0), 0, 1e6)}
    reasons = list(TRIP_REASONS.values())
    if "trips" in v:
        tp = path + ("trips",)
        trips = v["trips"]
        if trips == "none":
            out["trips"] = {str(r): "none" for r in range(channels)}
        else:
            trips = F.mapping(src, tp, trips)
            out["trips"] = {}
            for room, reason in trips.items():
                F.number(src, tp + (room,), room, 0, channels - 1, integer=True)
                out["trips"][str(room)] = F.choice(src, tp + (room,), reason, reasons)
    out["modbus"] = F.boolean(src, path + ("modbus",), v.get("modbus", True))
    return out


# ---- the run ----------------------------------------------------------------------------------

def _rooms(loads: dict, channels: int) -> list:
    from metersim._cabinet.scenario import RoomLoad, standard_rooms
    from metersim._orchestration.appliances import Motor, ResistiveHeater

    std = loads["standard"]
    rooms = standard_rooms(std["rooms"], hours=std["hours"], power_W=std["power_W"]) if std else []
    for c in loads["constant"]:
        while len(rooms) <= c["room"]:
            rooms.append(RoomLoad(f"empty{len(rooms)}", []))
        app = ResistiveHeater(c["power_W"]) if c["pf"] == 1.0 else Motor(c["power_W"], pf=c["pf"])
        rooms[c["room"]] = RoomLoad(f"constant{c['room']}", [app])
    return rooms


def fault_times(faults: dict, seed: int) -> tuple[list[int], list[int]]:
    """(power cut times, noise burst times) in ps since power-on, the random ones from `seed`."""
    cuts, noise = [], []
    pc = faults["power_cuts"]
    if pc:
        rng = random.Random(seed * 1_000_003 + 11)
        wanted = sorted(pc["at"] + [rng.randint(*pc["between"]) for _ in range(pc["random"])])
        # a cut never comes before the controller has restarted from the previous one: it is
        # delayed until then, and dropped if that is past the last time a cut fits in
        outage = round((pc["holdup_ms"] + pc["off_ms"]) * PS_PER_MS)
        for t in wanted:
            if cuts:
                t = max(t, cuts[-1] + outage + REBOOT_MARGIN_PS)
            if t <= pc["last_ps"]:
                cuts.append(t)
    bn = faults["bus_noise"]
    if bn:
        rng = random.Random(seed * 1_000_003 + 23)
        noise = sorted(rng.randint(*bn["between"]) for _ in range(bn["bursts"]))
    return cuts, noise


def run(sc: dict, seed: int, elf_paths: dict) -> dict:
    from metersim._cabinet.board import build_controller, new_bus
    from metersim._cabinet.checks import check_against_references, power_cut, reference_energy_Wh
    from metersim._cabinet.modbus_master import ModbusMaster
    from metersim._cabinet.scenario import attach_rooms, prepare_rooms
    from metersim._engine.emulation import Emulation
    from metersim._errors import CheckFailed, MetersimError

    digest = hashlib.sha1()
    emu = Emulation(seed=seed, wall_guard_s=600.0)
    bus = new_bus(emu)
    bus.on_tap(lambda r: digest.update(repr((r.start_ps, r.end_ps, r.driver, r.sent, r.value,
                                             r.corrupted, r.framing_error, r.reasons)).encode()))
    ch = sc["channels"]
    board = build_controller(emu, channels=ch, elf=elf_paths[sc["firmware"]], bus=bus)
    rooms = _rooms(sc["loads"], ch)
    offset = sc["loads"]["standard"]["offset_s"] if sc["loads"]["standard"] else 0.0
    attach_rooms(board, rooms, origin_ps=-round(offset * PS_PER_S))
    emu.run_until_time(sc["boot_ps"])
    master = ModbusMaster(emu, bus)
    failures = []
    prepare_rooms(master, ch, credit_cents=sc["credit_cents"],
                  price_cents_per_kWh=sc["price_cents_per_kWh"], **sc["settings"])
    cuts, noise = fault_times(sc["faults"], seed)
    for t in noise:
        bus.noise_burst(round(sc["faults"]["bus_noise"]["duration_ms"] * PS_PER_MS), at_ps=max(t, emu.now_ps))
    pc = sc["faults"]["power_cuts"]
    rng = random.Random(seed * 1_000_003 + 31)
    in_write = 0
    errors = []                 # (room errors in Wh, measured - reference) read before each cut
    for t in cuts:
        if sc["checks"]["max_loss_Wh_per_cut"] is not None:
            emu.run_until_time(max(t - CUT_READ_LEAD_PS, emu.now_ps))
            errors.append(_energy_errors(master, board, ch))
        if rng.random() < pc["in_eeprom_write"]:
            in_write += cut_in_eeprom_write(board, max(t, emu.now_ps), pc["holdup_ms"], pc["off_ms"], rng)
        else:
            power_cut(board, at_ps=max(t, emu.now_ps), holdup_ms=pc["holdup_ms"], off_ms=pc["off_ms"])
    emu.run_until_time(sc["duration_ps"])
    end_ps = emu.now_ps
    reference = [reference_energy_Wh(board, r, 0, end_ps) if r in board.profiles else 0.0 for r in range(ch)]
    energy, trips = [None] * ch, [None] * ch
    try:
        for r in range(ch):
            reading = master.room(r)
            energy[r] = float(reading.energy_Wh)
            trips[r] = reading.trip_reason_name if reading.tripped else "none"
        info = master.device_info()
        if sc["checks"]["modbus"] and info["power_failures"] != len(cuts):
            failures.append(f"modbus: the controller counts {info['power_failures']} power failures, "
                            f"{len(cuts)} cuts were made")
    except MetersimError as e:
        failures.append(f"modbus: {e}")
    ec = sc["checks"]["energy"]
    if ec and None not in energy:
        try:
            check_against_references(list(zip(range(ch), energy, reference)),
                                     rel=ec["tolerance_pct"] / 100, abs_Wh=ec["abs_Wh"])
        except CheckFailed as e:
            failures.append(str(e))
    for room, want in sorted((sc["checks"]["trips"] or {}).items()):
        got = trips[int(room)]
        if got is not None and got != want:
            failures.append(f"trips: room {room} expected {want!r}, got {got!r}")
    figures = {"cuts": len(cuts), "cuts_in_eeprom_write": in_write}
    limit = sc["checks"]["max_loss_Wh_per_cut"]
    if cuts and limit is not None:
        errors.append(None if None in energy else [e - ref for e, ref in zip(energy, reference)])
        # a cut's loss: how much further the room fell behind the reference from the read
        # before it to the read before the next cut (or the read-back at the end)
        losses = [(i, max(b4 - af for b4, af in zip(errors[i], errors[i + 1])))
                  for i in range(len(cuts)) if errors[i] is not None and errors[i + 1] is not None]
        figures["max_loss_Wh_per_cut"] = round(max([0.0] + [w for _, w in losses]), 3)
        figures["cuts_measured"] = len(losses)
        for i, w in losses:
            if w > limit:
                failures.append(f"energy: cut {i + 1} at {cuts[i] / PS_PER_S:.3f} s lost {w:.1f} Wh "
                                f"in a room (limit {limit} Wh)")
    if sc["checks"]["records"]:
        bad = corrupted_records(board, ch)
        figures["corrupted_records"] = len(bad)
        failures += [f"records: {b}" for b in bad]
    eeprom = bytes(board.eeprom.read_image(0, 0x8000))
    console = board.console.text
    digest.update(console.encode())
    digest.update(eeprom)
    digest.update(repr([list(r.history) for r in board.relays]).encode())
    digest.update(repr((energy, trips, board.machine.cpu.instructions)).encode())
    return {"passed": not failures, "failures": failures,
            "energy_Wh": energy, "reference_Wh": [round(x, 6) for x in reference],
            "trips": trips, "power_cuts_s": [t / PS_PER_S for t in cuts],
            "virtual_s": emu.now_ps / PS_PER_S, "instructions": board.machine.cpu.instructions,
            "trace_sha1": digest.hexdigest(), "figures": figures,
            "artefacts": {"console.txt": console.encode(), "eeprom.bin": eeprom}}


def _energy_errors(master, board, ch: int) -> list[float] | None:
    """Each room's energy over Modbus less the reference so far (None if the bus fails)."""
    from metersim._cabinet.checks import reference_energy_Wh
    from metersim._errors import MetersimError

    try:
        got = [master.room_energy_Wh(r) for r in range(ch)]
    except MetersimError:
        return None
    now = board.emu.now_ps
    return [g - (reference_energy_Wh(board, r, 0, now) if r in board.profiles else 0.0)
            for r, g in enumerate(got)]


def cut_in_eeprom_write(board, at_ps: int, holdup_ms: float, off_ms: float, rng: random.Random) -> int:
    """A mains failure at `at_ps` whose hold-up ends at a random instant inside the EEPROM write
    cycle the firmware starts to save its totals (the AT24C's internal programming, 5 ms), so
    the supply dies mid-write. Returns 1 if a write was hit, 0 if none started within the
    hold-up (then it is an ordinary cut)."""
    from metersim._cabinet.board import SUPPLY_NOMINAL_V

    emu, ee = board.emu, board.eeprom
    emu.run_until_time(at_ps)
    board.set_mains(False)
    board.set_supply_V(2.0)
    hit = emu.run_until_time(emu.now_ps + round(holdup_ms * PS_PER_MS), until=lambda: ee.busy)
    if hit:
        start = ee.write_cycles[-1][0]
        emu.run_until_time(start + rng.randrange(1, ee.write_cycle_ps))
    board.machine.power_off()
    emu.run_until_time(emu.now_ps + round(off_ms * PS_PER_MS))
    board.set_supply_V(SUPPLY_NOMINAL_V)
    board.set_mains(True)
    board.machine.power_on()
    return int(hit)


def corrupted_records(board, channels: int) -> list[str]:
    """What a cut may not leave behind (docs/firmware_metering_controller.md, "EEPROM layout"):
    a bad header, a room without a valid settings record, no valid live totals, or totals that
    went backwards from one live record to the next."""
    from metersim._cabinet.checks import read_records

    rec = read_records(board)
    bad = [] if rec.header_ok else ["the header is not valid"]
    bad += [f"room {r} has no valid settings record" for r in range(channels) if r not in rec.room_records]
    if not rec.live:
        bad.append("no valid live-totals record")
    for a, b in zip(rec.live, rec.live[1:]):
        if any(y < x for x, y in zip(a.energy_Wh, b.energy_Wh)):
            bad.append(f"live totals {a.seq} -> {b.seq} went backwards: {a.energy_Wh} -> {b.energy_Wh}")
    return bad
