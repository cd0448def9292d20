"""Campaign system `meter`: the new-generation meter, both units on one supply (the management
unit's factory image: bootloader, RTOS image meter_mu, LOADID in flashfs; the metrology unit's
firmware on its own F103), built with `build_meter` and cut with the power orchestration's
supply (`_orchestration.power`: VDD below the PVD threshold on both MCUs, a hold-up, power off,
back on), so the metrology unit's power-fail save runs at every cut.

A scenario: boot, then `cuts` power cuts, each a seeded gap after both units are up again and
of a seeded kind:
  plain         an instant of ordinary running;
  eeprom_write  the hold-up ends inside the AT24C write cycle of the metrology unit's
                power-fail save (the chip tears the bytes being programmed);
  freeze        the metrology unit's clock is put 2 s before a 15-minute boundary and the
                PVD comes inside the write cycle of the interval record or of the energy save
                of the freeze that follows (then the usual hold-up);
  file_write    while the power is off, the management unit's clock is put a seeded 0-2 days
                past the next midnight, so at its start the basic app makes the daily (and on
                the 1st the monthly) freezes it missed and writes their littlefs backup files
                on the NOR (/nor/freeze/...); the cut falls inside a seeded one of the NOR page
                programs or sector erases of that start (restarts cut this way are checked at
                the next start that is not);
  upgrade       an app upgrade is in the NOR journal (staged by the host as the RTOS's
                `ms_upg_stage` would: meter_mu has no receive path) and the cut falls at a
                seeded instant of the bootloader's work after the restart, or (half of them)
                inside one of its NOR sector erases or page programs: the backup slot and the
                journal records, the on-chip sector erase and program, the trial start; or
                of the rollback that follows (meter_mu never confirms a trial, so the next
                restart rolls it back). Restarts cut again this way are checked at the next
                start that is not.
After every start both units must be up and: the metrology unit's newest valid energy record
never goes backwards; its interval ring holds valid records in order; the management unit's
EEPROM holds the communication service's settings it wrote at its first start; LOADID runs in the old or the new version and its
extent passes every image check on the host; the RTOS image too. After every cut the NOR's
littlefs (0x200000..0x7FFFFF) is mounted on the host with littlefs-python and every file the
management unit reported closed on its console ("freeze: file ... closed, freeze N, crc C")
must read back whole: 48 bytes, its CRC valid, freeze N or a newer one of its slot (a lost
closed file otherwise). Each cut loses at most
`max_loss_Wh_per_cut` against the reference (the load it was given, none while the mains is
off), read from the unit's RAM at the cut and at the next one, whether or not the power went
while the metrology unit's EEPROM was programming (a torn record of its energy ring leaves the
one before it, at most 5 Wh older).
"""

from __future__ import annotations

import hashlib
import random
import re
import struct
import tempfile
from datetime import timedelta
from pathlib import Path

from metersim._campaign import fields as F
from metersim._campaign.spec_source import Source
from metersim._units import PS_PER_MS, PS_PER_S

NAME = "meter"
KINDS = ("plain", "eeprom_write", "freeze", "file_write", "upgrade")
KEYS = {"firmware": "the management unit's RTOS ELF (meter_mu)", "boot": "boot time",
        "voltage_V": "mains voltage", "power_W": "the load", "energy_kWh": "stored energy at start",
        "cuts": "power cuts", "checks": "checks", "repeat": "a label"}
START_TIMEOUT_PS = 5 * PS_PER_S          # both units up again after a cut (upgrade work included)
APP_FILE, APP_ADDR, APP_EXTENT = "LOADID", 0x08060000, 0x20000
RTOS_ADDR, RTOS_SIZE = 0x08008000, 0x38000
MU_EE_COM = (0x0000, 0x0100)             # services.h EEPROM_COM_START, _SIZE: address, passwords
# firmware/services/metrology_link.h
EE_COPY_A, EE_COPY_B, EE_RING, EE_SLOT, RING = 0x0000, 0x0040, 0x0100, 32, 256
# firmware/targets/metrology_unit/main.c: the energy ring (seq u16, forward u48, reverse u48 mWh, CRC)
EE_ENERGY_RING, EE_REC_BYTES, EE_RING_SLOTS = 0x4000, 16, 512
INTERVAL_S = 15 * 60
# the management unit's littlefs (firmware/targets/meter_mu/nor_fs.c, drivers/lfs_port.h)
NOR_LFS_OFFSET, NOR_LFS_BLOCKS = 0x200000, 1536
NOR_LFS_GEOMETRY = dict(block_size=4096, block_count=NOR_LFS_BLOCKS, read_size=16, prog_size=16,
                        cache_size=128, lookahead_size=16)
FREEZE_FILE_BYTES = 48                   # apps/basic/freeze.c struct frec
CLOSED_RE = re.compile(r"freeze: file /nor(/freeze/\w+/\d+) closed, freeze (\d+), crc ([0-9a-f]{4})")
FILE_OPS_AIMED = 6                       # the cut falls in one of the first NOR operations
UPGRADE_CUT_P = 0.7                      # a restart with upgrade work is cut inside it
NOR_AIM_P = 0.5                          # and then inside a NOR erase or program
SETTLED = (0, 5, 7, 8)                   # idle, confirmed, rolled back, aborted: nothing to do
PHASES = [("boot: upgrade LOADID: backing up", "backup"),
          ("boot: upgrade LOADID: programming", "programming"),
          ("boot: upgrade LOADID: new image on trial", "trial"),
          ("boot: upgrade LOADID: trial not confirmed", "rollback"),
          ("boot: starting RTOS", "rtos")]


# ---- validation -------------------------------------------------------------------------------

def validate(src: Source, path: tuple, t, firmware_names: list[str]) -> dict:
    t = F.mapping(src, path, t, KEYS)
    fw_default = firmware_names[0] if len(firmware_names) == 1 else F.MISSING
    out = {"firmware": F.choice(src, path + ("firmware",), F.get(src, t, path, "firmware", fw_default),
                                firmware_names)}
    out["boot_ps"] = F.duration_ps(src, path + ("boot",), t.get("boot", "2s"))
    out["voltage_V"] = F.number(src, path + ("voltage_V",), t.get("voltage_V", 230.0), 100, 300)
    out["power_W"] = F.number(src, path + ("power_W",), t.get("power_W", 3000.0), 0, 13800)
    out["energy_kWh"] = F.number(src, path + ("energy_kWh",), t.get("energy_kWh", 1234.5), 0, 1e9)
    out["cuts"] = F.power_cuts(src, path + ("cuts",), F.get(src, t, path, "cuts"), KINDS, ["0.5s", "3s"])
    kp = path + ("checks",)
    k = F.mapping(src, kp, t.get("checks", {}), {"max_loss_Wh_per_cut": ""})
    out["checks"] = {"max_loss_Wh_per_cut": F.number(src, kp + ("max_loss_Wh_per_cut",),
                                                     k.get("max_loss_Wh_per_cut", 10.0), 0, 1e6)}
    if "repeat" in t:
        out["repeat"] = t["repeat"]
    return out


# ---- the factory image and the NOR journal ------------------------------------------------------

def factory_image(rtos_elf: str, workdir: Path) -> Path:
    """The factory image of platforms/images/meter_mu.yaml with `rtos_elf` as its RTOS image and
    every other ELF (bootloader, apps) from the firmware search path."""
    import yaml

    from metersim._image.pack import pack
    from metersim._resources import firmware_path, platforms_dir

    man = yaml.safe_load((platforms_dir() / "images" / "meter_mu.yaml").read_text())

    def found(entry: dict) -> None:
        p = Path(entry["elf"])                 # ../../build/fw/<target>/<program>.elf
        entry["elf"] = str(firmware_path(p.parent.name, p.stem))
    found(man["bootloader"])
    man["rtos"]["elf"] = str(rtos_elf)
    for app in man.get("apps", []):
        found(app)
    path = workdir / "meter_mu.yaml"
    path.write_text(yaml.safe_dump(man))
    out = workdir / "meter_mu.bin"
    out.write_bytes(pack(path))
    return out


def stage_upgrade(nor, data: bytes) -> None:
    """What the RTOS's `ms_upg_stage` leaves in the NOR (docs/meter_flash_layout.md, "Upgrade
    area"): the image in the download slot, then a PENDING record appended to the journal."""
    import zlib

    from metersim._image import upgrade as U

    mem = nor.mem
    mem[U.DOWNLOAD:U.DOWNLOAD + U.SLOT_SIZE] = 0xFF
    mem[U.DOWNLOAD:U.DOWNLOAD + len(data)] = list(data)
    journal = U.read_journal(bytes(mem[:U.JOURNAL + U.JOURNAL_SECTORS * U.SECTOR]))
    if journal:
        last = journal[-1]
        s = (last.offset - U.JOURNAL) // U.SECTOR
        base = U.JOURNAL + s * U.SECTOR
        nxt = next((i for i in range(U.SECTOR // U.REC_SIZE)
                    if (mem[base + i * U.REC_SIZE:base + (i + 1) * U.REC_SIZE] == 0xFF).all()),
                   U.SECTOR // U.REC_SIZE)
        seq = last.seq + 1
        if nxt >= U.SECTOR // U.REC_SIZE:
            s, nxt = (s + 1) % U.JOURNAL_SECTORS, 0
            base = U.JOURNAL + s * U.SECTOR
            mem[base:base + U.SECTOR] = 0xFF
    else:
        base, nxt, seq = U.JOURNAL, 0, 1
        mem[base:base + U.SECTOR] = 0xFF
    body = struct.pack("<9I20s4s", U.REC_MAGIC, seq, U.UpgradeState.PENDING, APP_ADDR, APP_EXTENT,
                       len(data), zlib.crc32(data), 0, 0, APP_FILE.encode(), b"\0" * 4)
    rec = body + struct.pack("<I", zlib.crc32(body))
    off = base + nxt * U.REC_SIZE
    mem[off:off + U.REC_SIZE] = list(rec)


def journal_state(nor) -> int:
    from metersim._image.upgrade import JOURNAL, JOURNAL_SECTORS, SECTOR, read_journal

    j = read_journal(bytes(nor.mem[:JOURNAL + JOURNAL_SECTORS * SECTOR]))
    return int(j[-1].state) if j else 0


# ---- the metrology unit's EEPROM ----------------------------------------------------------------

def newest_ring_record(img: bytes) -> tuple | None:
    """(seq, slot, forward mWh, reverse mWh) of the newest valid record of the metrology unit's
    energy ring, or None with none."""
    from metersim._meter.metrology_unit import crc16

    best = None
    for slot in range(EE_RING_SLOTS):
        raw = img[EE_ENERGY_RING + EE_REC_BYTES * slot:][:EE_REC_BYTES]
        if int.from_bytes(raw[14:16], "little") != crc16(raw[:14]):
            continue
        seq = int.from_bytes(raw[0:2], "little")
        if best is None or 0 < (seq - best[0]) % (1 << 16) < (1 << 15):
            best = (seq, slot, int.from_bytes(raw[2:8], "little"), int.from_bytes(raw[8:14], "little"))
    return best


def metrology_records(eeprom) -> tuple[tuple | None, list[str]]:
    """(what the unit starts from: (seq of the newest valid copy, fwd_mWh, rev_mWh, intervals),
    the totals from the newest ring record when there is one, or None without a valid copy;
    problems in the interval ring)."""
    from metersim._meter.metrology_unit import crc16, parse_energy_record

    img = bytes(eeprom.read_image(0, 0x8000))
    best = None
    for addr in (EE_COPY_A, EE_COPY_B):
        rec = parse_energy_record(img[addr:addr + 30])
        if rec is not None and (best is None or (rec[0] - best[0]) % (1 << 32) < (1 << 31)):
            best = rec
    ring = newest_ring_record(img)
    if best is not None and ring is not None:
        best = (best[0], ring[2], ring[3], best[3])
    bad = []
    if best is not None:
        n_int = best[3]
        prev = None
        for n in range(max(1, n_int - RING + 1), n_int + 1):
            raw = img[EE_RING + EE_SLOT * ((n - 1) % RING):][:30]
            if int.from_bytes(raw[28:30], "little") != crc16(raw[:28]):
                bad.append(f"interval record {n}: bad CRC")
                continue
            number, time_s, fwd, rev = struct.unpack("<IIQQ", raw[:24])
            if number != n or time_s % INTERVAL_S:
                bad.append(f"interval record {n}: holds number {number}, time {time_s}")
            elif prev is not None and not (time_s > prev[0] and fwd >= prev[1]):
                bad.append(f"interval record {n}: out of order ({prev} -> {(time_s, fwd)})")
            prev = (time_s, fwd)
    return best, bad


# ---- the management unit's littlefs ----------------------------------------------------------

def nor_files(nor_image: bytes) -> dict[str, bytes]:
    """Every file of the littlefs on a NOR image, path (from its root) -> content; raises when
    it does not mount."""
    from littlefs import LittleFS
    from littlefs.context import UserContext

    buf = bytearray(nor_image[NOR_LFS_OFFSET:NOR_LFS_OFFSET + NOR_LFS_BLOCKS * 4096])
    fs = LittleFS(context=UserContext(buffer=buf), mount=False, **NOR_LFS_GEOMETRY)
    fs.mount()                            # (LittleFS(mount=True) would format what fails)
    out = {}
    for root, _dirs, files in fs.walk("/"):
        for name in files:
            path = f"{root.rstrip('/')}/{name}"
            with fs.open(path, "rb") as fh:
                out[path] = fh.read()
    return out


def closed_files(console: str) -> dict[str, tuple[int, int]]:
    """The files the management unit reported closed: path -> (freeze number, record CRC) of
    the last report."""
    return {m[1]: (int(m[2]), int(m[3], 16)) for m in CLOSED_RE.finditer(console)}


def lost_closed_files(closed: dict[str, tuple[int, int]], files: dict[str, bytes]) -> list[str]:
    """What is wrong with the closed files: missing, torn (length, CRC), or older than the
    version reported closed (a newer one of the same slot is fine: made after the report)."""
    from metersim._meter.metrology_unit import crc16

    bad = []
    for path, (n, crc) in sorted(closed.items()):
        data = files.get(path)
        if data is None:
            bad.append(f"{path}: closed (freeze {n}), missing")
            continue
        if len(data) != FREEZE_FILE_BYTES:
            bad.append(f"{path}: closed (freeze {n}), {len(data)} bytes")
            continue
        n16, c16 = struct.unpack_from("<HH", data)
        if c16 != crc16(data[4:]):
            bad.append(f"{path}: closed (freeze {n}), bad CRC")
        elif (n16 - n) % (1 << 16) >= 1 << 15:
            bad.append(f"{path}: closed with freeze {n}, holds freeze {n16}")
        elif n16 == n % (1 << 16) and c16 != crc:
            bad.append(f"{path}: freeze {n} closed with CRC {crc:04x}, holds {c16:04x}")
    return bad


# ---- the run ----------------------------------------------------------------------------------

class _Run:
    def __init__(self, sc: dict, seed: int, image: Path):
        import metersim
        from metersim._engine.emulation import Emulation
        from metersim._resources import firmware_path

        self.sc, self.pc = sc, sc["cuts"]
        self.emu = Emulation(seed=seed, wall_guard_s=600.0)
        i = sc["power_W"] / sc["voltage_V"]
        self.meter = metersim.build_meter(self.emu, image, firmware_path("f103rb", "metrology_unit"),
                                          voltage_V=sc["voltage_V"], current_A=i,
                                          power_W=sc["power_W"], energy_kWh=sc["energy_kWh"])
        self.mu, self.unit = self.meter.mu, self.meter.unit
        self.mt = self.unit.machine
        self.mu_con = metersim.capture_uart(self.mu)
        self.mt_con = metersim.capture_uart(self.mt)
        self.nor = self.mu["nor"]
        self.g = self.mt.symbol("g")

    def energy_Wh(self) -> float:
        """The metrology unit's counted energy now (forward + reverse, its RAM)."""
        rd = self.mt.read_u32
        fwd = rd(self.g + 8) | rd(self.g + 12) << 32
        rev = rd(self.g + 16) | rd(self.g + 20) << 32
        return (fwd + rev) / 1000.0

    def error_Wh(self) -> float:
        return self.energy_Wh() - self.sc["energy_kWh"] * 1000.0 - self.unit.reference_Wh()

    def wait_started(self, mu_mark: int, mt_mark: int) -> str | None:
        """Both units up after a start (the RTOS's services and the metrology unit metering);
        the LOADID version started, or None when they did not come up."""
        def up():
            return ("meter: started" in self.mu_con.text[mu_mark:]
                    and "metrology: link on USART2" in self.mt_con.text[mt_mark:]
                    and "loader: started LOADID" in self.mu_con.text[mu_mark:])
        if not self.emu.run_until_time(self.emu.now_ps + START_TIMEOUT_PS, until=up) and not up():
            return None
        line = [ln for ln in self.mu_con.text[mu_mark:].splitlines() if "loader: started LOADID" in ln][-1]
        return line.split()[3]

    def supply_low(self) -> None:
        from metersim._orchestration.power import supply_of

        self.load = (self.unit.voltage_V, self.unit.current_A, self.unit.power_W)
        self.unit.set_load(0.0, 0.0, 0.0)             # the mains is gone: no load, no line cycles
        for m in (self.mu, self.mt):
            supply_of(m).set_supply_V(2.0)

    def power_off(self) -> None:
        self.mu.power_off()
        self.mt.power_off()

    def restore(self) -> None:
        from metersim._orchestration.power import SUPPLY_NOMINAL_V, supply_of

        self.emu.run_until_time(self.emu.now_ps + round(self.pc["off_ms"] * PS_PER_MS))
        for m in (self.mu, self.mt):
            supply_of(m).set_supply_V(SUPPLY_NOMINAL_V)
        self.unit.set_load(*self.load)
        self.mu.power_on()
        self.mt.power_on()


def run(sc: dict, seed: int, elf_paths: dict) -> dict:
    from metersim._image import Kind
    from metersim._image.elfimage import image_from_elf
    from metersim._resources import firmware_path

    with tempfile.TemporaryDirectory(prefix="metersim-meter-") as d:
        image = factory_image(elf_paths[sc["firmware"]], Path(d))
        r = _Run(sc, seed, image)
    emu, pc = r.emu, r.pc
    rng = random.Random(seed * 1_000_003 + 41)
    failures: list[str] = []
    figures = {"cuts": 0, **{f"cuts_{k}": 0 for k in KINDS}, "cuts_in_nor_program": 0,
               "cuts_in_nor_erase": 0, "cuts_in_eeprom_write": 0, "upgrades_staged": 0,
               **{f"cuts_upgrade_{name}": 0 for _, name in PHASES + [("", "start")]},
               "starts_checked": 0, "starts_factory_app": 0, "starts_new_app": 0,
               "corrupted_records": 0, "max_loss_Wh_per_cut": 0.0, "cuts_in_file_write": 0,
               "files_closed": 0, "closed_files_checked": 0, "lost_closed_files": 0}
    loadid_elf = firmware_path("f413rg", "app_loadid")
    names = list(KINDS)
    weights = [pc["kinds"][k] for k in names]

    def draw(restarting: bool) -> str:
        """The next cut's kind, drawn as the units power on (or at the first boot)."""
        pending = journal_state(r.nor) not in SETTLED
        if pc["kinds"]["upgrade"] and pending and (not restarting or rng.random() < UPGRADE_CUT_P):
            return "upgrade" if restarting else "plain"   # cut into the bootloader's work
        kind = rng.choices(names, weights)[0]
        if kind == "file_write":
            if not restarting or pending:
                return "plain"        # no start to write files in / the bootloader's work first
            # the start that follows makes the daily freezes of the midnights passed
            clock = r.mu["rtc"].datetime()
            midnight = clock.replace(hour=0, minute=0, second=0, microsecond=0)
            r.mu["rtc"].set_datetime(midnight + timedelta(days=1 + rng.randrange(3),
                                                          seconds=rng.randrange(1, 50)))
            return kind
        if kind == "upgrade" and pending:
            return "plain"            # the work runs to its end this time; checked after it
        if kind == "upgrade":
            # nothing in progress: one staged now, found by the bootloader of this restart
            # (the first boot's: by the next)
            figures["upgrades_staged"] += 1
            stage_upgrade(r.nor, image_from_elf(loadid_elf, Kind.APP, APP_FILE,
                                                f"1.{figures['upgrades_staged']}.0"))
            return "upgrade" if restarting else "plain"
        return kind

    emu.run_until_time(sc["boot_ps"])
    if r.wait_started(0, 0) is None:
        failures.append("the meter did not start")
        return _result(r, failures, figures)
    mu_ee = bytes(r.mu["eeprom"].read_image(*MU_EE_COM))   # written at its first start
    newest = None
    errors: list[float | None] = []
    torn: list[bool] = []             # the hold-up ended inside the power-fail save
    restart_mark = (0, 0)
    nor_mark = 0
    lost: set[str] = set()
    kind = draw(False)
    for i in range(pc["count"]):
        holdup = round(pc["holdup_ms"] * PS_PER_MS)
        ee = r.unit.eeprom
        aim = None
        if kind == "file_write":
            # inside a seeded one of the littlefs's NOR operations of the freezes' file writes
            nth = rng.randrange(FILE_OPS_AIMED)
            nor = r.nor

            def in_nth_file_op() -> bool:
                ops = [o for o in nor.operations[nor_mark:] if o[2] >= NOR_LFS_OFFSET]
                return len(ops) > nth and nor._op is not None and nor._op["addr"] >= NOR_LFS_OFFSET
            mark = restart_mark[0]
            if emu.run_until_time(emu.now_ps + START_TIMEOUT_PS, until=lambda: in_nth_file_op()
                                  or "freeze: running at" in r.mu_con.text[mark:]) and nor._op:
                op = nor._op
                r.supply_low()
                emu.run_until_time(op["start_ps"] + rng.randrange(1, op["end_ps"] - op["start_ps"]))
            else:
                r.supply_low()        # the writes ended first: a cut just after them
                emu.run_until_time(emu.now_ps + rng.randrange(1, holdup))
        elif kind == "upgrade":
            # the restart began the bootloader's work: a seeded instant of it, hold-up
            # included, or inside one of its NOR erases or page programs
            if rng.random() < NOR_AIM_P:
                aim = (rng.choice(("sector_erase", "page_program")), rng.randrange(4))
            else:
                emu.run_until_time(emu.now_ps + rng.randrange(PS_PER_MS, 1600 * PS_PER_MS))
        else:
            emu.run_until_time(emu.now_ps + rng.randrange(*pc["gap_ps"]))
        metering = "metrology: link on USART2" in r.mt_con.text[restart_mark[1]:]
        errors.append(r.error_Wh() if metering else None)
        if kind == "eeprom_write":
            r.supply_low()
            if emu.run_until_time(emu.now_ps + holdup, until=lambda: ee.busy):
                emu.run_until_time(ee.write_cycles[-1][0] + rng.randrange(1, ee.write_cycle_ps))
        elif kind == "freeze":
            rtc = r.mt["rtc"]
            now_s = rtc.counter
            rtc.set_counter(now_s + INTERVAL_S - now_s % INTERVAL_S - 2)   # 2 s before a boundary
            # the PVD comes inside the interval record's write cycle or the energy save's
            n0, nth = len(ee.write_cycles), rng.randrange(2)
            emu.run_until_time(emu.now_ps + 6 * PS_PER_S, until=lambda: len(ee.write_cycles) > n0 + nth)
            if len(ee.write_cycles) > n0 + nth:
                emu.run_until_time(ee.write_cycles[n0 + nth][0] + rng.randrange(1, ee.write_cycle_ps))
            errors[-1] = r.error_Wh()
            r.supply_low()
            emu.run_until_time(emu.now_ps + holdup)
        elif kind == "upgrade":
            nor = r.nor
            n0 = len(nor.operations)

            def nth_op() -> bool:
                ops = [o for o in nor.operations[n0:] if o[1] == aim[0]]
                return len(ops) > aim[1] and nor._op is not None and nor._op["kind"] == aim[0]
            if aim and emu.run_until_time(emu.now_ps + 1600 * PS_PER_MS, until=nth_op):
                # the supply gone inside a NOR sector erase (the backup slot's, the journal's)
                # or page program (backup, journal record) of the bootloader
                op = nor._op
                r.supply_low()
                emu.run_until_time(op["start_ps"] + rng.randrange(1, op["end_ps"] - op["start_ps"]))
            else:
                r.supply_low()
                emu.run_until_time(emu.now_ps + rng.randrange(1, holdup))
            text = r.mu_con.text[restart_mark[0]:]
            phase = next((name for key, name in reversed(PHASES) if key in text), "start")
            figures[f"cuts_upgrade_{phase}"] += 1
        elif kind != "file_write":            # (that one is cut already: above)
            r.supply_low()
            emu.run_until_time(emu.now_ps + holdup)
        torn.append(ee.busy)          # a save (or another write) of the metrology unit torn
        figures["cuts_in_eeprom_write"] += int(ee.busy)
        op = r.nor._op
        if op is not None:
            figures["cuts_in_nor_erase" if "erase" in op["kind"] else "cuts_in_nor_program"] += 1
            figures["cuts_in_file_write"] += int(op["addr"] >= NOR_LFS_OFFSET)
        r.power_off()
        figures["cuts"] += 1
        figures[f"cuts_{kind}"] += 1
        where = f"cut {i + 1} ({kind}) at {emu.now_ps / PS_PER_S:.3f} s"
        # every file closed before the cut reads back whole
        closed = closed_files(r.mu_con.text)
        try:
            bad = lost_closed_files(closed, nor_files(bytes(r.nor.mem)))
        except Exception as e:            # littlefs-python's mount errors
            bad = [f"{p}: closed (freeze {n}), littlefs does not mount ({e})" for p, (n, _) in closed.items()]
        figures["files_closed"] = len(closed)
        figures["closed_files_checked"] += len(closed)
        new = [b for b in bad if b.split(":")[0] not in lost]
        lost |= {b.split(":")[0] for b in bad}
        figures["lost_closed_files"] = len(lost)
        failures += [f"{where}: {b}" for b in new]
        r.restore()
        restart_mark = (len(r.mu_con.text), len(r.mt_con.text))
        nor_mark = len(r.nor.operations)
        kind = draw(True) if i + 1 < pc["count"] else "end"
        if kind in ("upgrade", "file_write"):
            continue                  # the next cut falls inside this restart's work
        # both units back, their records intact
        version = r.wait_started(*restart_mark)
        if version is None:
            failures.append(f"{where}: the meter did not start again within "
                            f"{START_TIMEOUT_PS / PS_PER_S:g} s")
            break
        figures["starts_checked"] += 1
        figures["starts_factory_app" if version == "1.0.0" else "starts_new_app"] += 1
        newest, bad = _check_stores(r, version, newest, mu_ee)
        figures["corrupted_records"] += len(bad)
        failures += [f"{where}: {b}" for b in bad]
    if failures:
        return _result(r, failures, figures)
    emu.run_until_time(emu.now_ps + 3 * PS_PER_S)       # a window and more after the last start
    errors.append(r.error_Wh())
    # a cut's loss: how much further the unit fell behind the reference from the read at it
    # to the read at the next measured one (a cut inside a start that had not metered yet is
    # taken together with the one before it)
    # A save torn by a hold-up that ended inside it leaves the ring record before it (at most
    # the unit's 5 Wh step older): the same limit holds for every cut; the torn ones' worst is
    # reported apart.
    known = [(k, e) for k, e in enumerate(errors) if e is not None]
    losses = [(k, a - b, any(torn[k:k2])) for (k, a), (k2, b) in zip(known, known[1:])]
    figures["cuts_measured"] = len(losses)
    figures["max_loss_Wh_per_cut"] = round(max([0.0] + [w for _, w, t in losses]), 3)
    figures["max_loss_Wh_torn_save"] = round(max([0.0] + [w for _, w, t in losses if t]), 3)
    figures["end_error_Wh"] = round(errors[-1], 3)
    for k, w, t in losses:
        limit = sc["checks"]["max_loss_Wh_per_cut"]
        if w > limit:
            failures.append(f"energy: cut {k + 1}{' (save torn)' if t else ''} lost {w:.2f} Wh "
                            f"(limit {limit} Wh)")
    return _result(r, failures, figures)


def _check_stores(r: _Run, version: str, newest, mu_ee: bytes) -> tuple:
    """(the metrology unit's newest energy record, what is wrong with the stored data)."""
    from metersim._image import Kind, check_image

    best, bad = metrology_records(r.unit.eeprom)
    if best is None:
        bad.append("no valid energy record in the metrology unit's EEPROM")
    elif newest is not None and best[1] + best[2] < newest[1] + newest[2]:
        bad.append(f"the stored energy went backwards: {newest} -> {best}")
    if bytes(r.mu["eeprom"].read_image(*MU_EE_COM)) != mu_ee:
        bad.append("the communication service's settings in the management unit's EEPROM changed")
    for what, addr, size, kind in (("LOADID", APP_ADDR, APP_EXTENT, Kind.APP),
                                   ("the RTOS image", RTOS_ADDR, RTOS_SIZE, Kind.RTOS)):
        try:
            h = check_image(r.mu.sysbus.read_memory(addr, size), run_addr=addr, kind=kind)
        except Exception as e:
            bad.append(f"{what} in flash: {e}")
            continue
        if what == "LOADID" and h.version_str != version:
            bad.append(f"LOADID {h.version_str} in flash, {version} started")
    return best or newest, bad


def _result(r: _Run, failures: list[str], figures: dict) -> dict:
    digest = hashlib.sha1()
    for part in (r.mu_con.text, r.mt_con.text):
        digest.update(part.encode())
    mu_ee, mt_ee = bytes(r.mu["eeprom"].read_image(0, 0x8000)), bytes(r.unit.eeprom.read_image(0, 0x8000))
    digest.update(mu_ee + mt_ee + bytes(r.nor.mem[0x100000:0x102000]))
    digest.update(repr((r.mu.cpu.instructions, r.mt.cpu.instructions)).encode())
    return {"passed": not failures, "failures": failures, "virtual_s": r.emu.now_ps / PS_PER_S,
            "instructions": r.mu.cpu.instructions + r.mt.cpu.instructions,
            "trace_sha1": digest.hexdigest(), "figures": figures,
            "artefacts": {"mu_console.txt": r.mu_con.text.encode(),
                          "metrology_console.txt": r.mt_con.text.encode(),
                          "metrology_eeprom.bin": mt_ee}}
