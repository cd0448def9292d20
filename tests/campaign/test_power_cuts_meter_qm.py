"""Small versions of the power-cut campaigns of the meter and the query manager
(benchmarks/campaigns/meter_power_cuts.yaml, qm_power_cuts.yaml; issue 17), and their checkers
on damaged stores: they must see what a cut may not leave behind."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from metersim._campaign.local_pool import job_of
from metersim._campaign.matrix import expand
from metersim._campaign.meter_system import (NOR_LFS_GEOMETRY, NOR_LFS_OFFSET, closed_files,
                                             lost_closed_files, metrology_records, newest_ring_record,
                                             nor_files)
from metersim._campaign.query_manager_system import BASE, CAP, REC_BYTES, modbus_crc16, read_ring
from metersim._campaign.spec import load_spec, parse_spec
from metersim._campaign.task import run_scenario
from metersim._errors import MetersimError
from metersim._meter.metrology_unit import crc16, energy_record

SPECS = Path(__file__).resolve().parents[2] / "benchmarks" / "campaigns"


def _run(text: str, elf: Path) -> dict:
    spec = parse_spec(f"firmware: {elf}\n" + text)
    (sc,) = expand(spec)
    res = run_scenario(job_of(sc), elf.read_bytes())
    assert res["error"] == "", res["error"]
    return res


def test_documented_campaigns_ask_for_seven_hundred_cuts(firmware):
    firmware("f413rg", "meter_mu"), firmware("f103rc", "query_manager")
    cuts = {name: sum(sc.scenario["cuts"]["count"] for sc in expand(load_spec(SPECS / f"{name}.yaml")))
            for name in ("meter_power_cuts", "qm_power_cuts")}
    assert cuts == {"meter_power_cuts": 400, "qm_power_cuts": 300}


def test_meter_power_cuts_in_saves_freezes_files_and_upgrades_keep_records_and_energy(firmware):
    res = _run("""\
system: meter
scenario:
  cuts: {count: 14, kinds: {plain: 1, eeprom_write: 2, freeze: 1, file_write: 2, upgrade: 2}}
seeds: [5]
""", firmware("f413rg", "meter_mu"))
    fig = res["figures"]
    assert res["passed"], res["failures"]
    assert fig["cuts"] == 14 and fig["corrupted_records"] == 0
    # the freezes' littlefs files: cuts inside their NOR writes, none closed lost
    assert fig["cuts_file_write"] >= 2 and fig["cuts_in_file_write"] >= 1
    assert fig["files_closed"] >= 3 and fig["lost_closed_files"] == 0
    assert fig["cuts_eeprom_write"] >= 2 and fig["cuts_in_eeprom_write"] >= 2
    assert fig["cuts_freeze"] >= 1 and fig["upgrades_staged"] >= 1
    assert fig["cuts_in_nor_erase"] + fig["cuts_in_nor_program"] >= 1
    # every cut, a torn save of the metrology unit's included, loses at most 0.01 kWh
    assert fig["max_loss_Wh_per_cut"] <= 10 and fig["max_loss_Wh_torn_save"] <= fig["max_loss_Wh_per_cut"]
    assert fig["starts_checked"] >= 8 and fig["starts_factory_app"] >= 1
    assert sum(v for k, v in fig.items() if k.startswith("cuts_upgrade_")) == fig["cuts_upgrade"]
    console = res["artefacts"]["metrology_console.txt"].decode()
    assert console.count("metrology: reset cause power-on") == 15      # every start
    assert "metrology: interval 1 at" in console                        # a freeze happened


def test_query_manager_power_cuts_keep_its_outage_ring_whole_and_in_order(firmware):
    res = _run("""\
system: query-manager
scenario:
  cuts: {count: 8, gap: [0.2s, 2s], kinds: {plain: 1, eeprom_write: 1}}
seeds: [3]
""", firmware("f103rc", "query_manager"))
    fig = res["figures"]
    assert res["passed"], res["failures"]
    assert fig["cuts"] == fig["starts_checked"] == 8
    assert fig["cuts_in_eeprom_write"] >= 2
    assert fig["corrupted_records"] == 0 and fig["lost_readings"] == 0
    assert fig["max_readings_kept"] >= 20          # snapshots of 4 rooms went on across cuts


# ---- the checkers on stores a faulty firmware could leave ------------------------------------

def _freeze_record(n: int, t_s: int, fwd: int) -> bytes:
    body = struct.pack("<I5I5I", t_s, fwd, 0, 0, fwd, 0, 0, 0, 0, 0, 0)   # apps/basic/freeze.c frec
    return struct.pack("<HH", n, crc16(body)) + body


def _nor_with(files: dict[str, bytes]) -> bytes:
    from littlefs import LittleFS
    from littlefs.context import UserContext

    buf = bytearray(b"\xff" * NOR_LFS_GEOMETRY["block_count"] * NOR_LFS_GEOMETRY["block_size"])
    fs = LittleFS(context=UserContext(buffer=buf), **NOR_LFS_GEOMETRY)
    fs.makedirs("/freeze/daily", exist_ok=True)
    for path, data in files.items():
        with fs.open(path, "wb") as fh:
            fh.write(data)
    return b"\xff" * NOR_LFS_OFFSET + bytes(buf)


def test_file_checker_sees_missing_torn_and_older_closed_files():
    r1, r2 = _freeze_record(1, 86400, 123_450), _freeze_record(2, 2 * 86400, 124_000)
    console = "".join(f"freeze: file /nor/freeze/daily/0{n} closed, freeze {n}, crc {r[2:4][::-1].hex()}\n"
                      for n, r in ((1, r1), (2, r2)))
    closed = closed_files(console)
    assert closed == {"/freeze/daily/01": (1, int.from_bytes(r1[2:4], "little")),
                      "/freeze/daily/02": (2, int.from_bytes(r2[2:4], "little"))}
    whole = {"/freeze/daily/01": r1, "/freeze/daily/02": r2}
    assert lost_closed_files(closed, nor_files(_nor_with(whole))) == []
    # the slot's next lap, made after the report: not lost
    assert lost_closed_files(closed, {**whole, "/freeze/daily/02": _freeze_record(64, 64 * 86400, 1)}) == []
    torn = bytearray(r2)
    torn[20] ^= 4
    assert lost_closed_files(closed, {"/freeze/daily/01": r1[:40], "/freeze/daily/02": bytes(torn)}) == [
        "/freeze/daily/01: closed (freeze 1), 40 bytes", "/freeze/daily/02: closed (freeze 2), bad CRC"]
    older = {"/freeze/daily/02": r2}
    assert lost_closed_files({**closed, "/freeze/daily/02": (64, 0)}, older) == [
        "/freeze/daily/01: closed (freeze 1), missing", "/freeze/daily/02: closed with freeze 64, holds freeze 2"]
    from littlefs import LittleFSError
    with pytest.raises(LittleFSError):
        nor_files(b"\xff" * 0x800000)                # no file system: it is not formatted here


class _Eeprom:
    def __init__(self, mem: bytearray):
        self.mem = mem

    def read_image(self, addr: int = 0, length: int | None = None) -> bytes:
        return bytes(self.mem[addr:addr + (len(self.mem) if length is None else length)])


def _interval(n: int, time_s: int, fwd_mWh: int) -> bytes:
    body = struct.pack("<IIQQ4x", n, time_s, fwd_mWh, 0)     # 28 bytes (MT_INTERVAL_BYTES)
    return body + crc16(body).to_bytes(2, "little")


def test_metrology_checker_sees_torn_copies_and_a_bad_ring():
    mem = bytearray(b"\xff" * 0x8000)
    mem[0x00:0x1E] = energy_record(1_000_000, 0, 2, seq=4)
    mem[0x40:0x5E] = energy_record(1_000_500, 0, 2, seq=5)
    mem[0x100:0x11E] = _interval(1, 900 * 100, 999_000)
    mem[0x120:0x13E] = _interval(2, 900 * 101, 1_000_400)
    assert metrology_records(_Eeprom(mem)) == ((5, 1_000_500, 0, 2), [])
    mem[0x45] ^= 0x10                                    # copy B torn: copy A stands
    assert metrology_records(_Eeprom(mem))[0] == (4, 1_000_000, 0, 2)
    mem[0x05] ^= 0x10                                    # both torn: nothing
    assert metrology_records(_Eeprom(mem))[0] is None
    mem[0x05] ^= 0x10
    mem[0x120:0x13E] = _interval(2, 900 * 99, 1_000_400)  # a freeze before the one before it
    assert metrology_records(_Eeprom(mem))[1] == ["interval record 2: out of order "
                                                  "((90000, 999000) -> (89100, 1000400))"]
    mem[0x130] ^= 1
    assert metrology_records(_Eeprom(mem))[1] == ["interval record 2: bad CRC"]


def _energy(seq: int, fwd_mWh: int, rev_mWh: int = 0) -> bytes:
    body = struct.pack("<H", seq) + fwd_mWh.to_bytes(6, "little") + rev_mWh.to_bytes(6, "little")
    return body + crc16(body).to_bytes(2, "little")


def test_metrology_checker_takes_the_newest_ring_record_and_skips_a_torn_one():
    mem = bytearray(b"\xff" * 0x8000)
    mem[0x40:0x5E] = energy_record(1_000_500, 0, 2, seq=5)
    assert metrology_records(_Eeprom(mem))[0] == (5, 1_000_500, 0, 2)        # no ring yet
    last = 0x4000 + 16 * 511                   # the ring's last slot, then it wraps to slot 0
    mem[last:last + 16] = _energy(0xFFFF, 1_004_000, 7)
    mem[0x4000:0x4010] = _energy(0, 1_009_000, 7)     # newer: the sequence number wrapped
    mem[0x4010:0x4020] = _energy(0xFFFE, 1_001_000)   # an older lap's
    assert newest_ring_record(bytes(mem)) == (0, 0, 1_009_000, 7)
    assert metrology_records(_Eeprom(mem))[0] == (5, 1_009_000, 7, 2)
    mem[0x4005] ^= 0x10                        # slot 0 torn by a cut: the record before it stands
    assert metrology_records(_Eeprom(mem))[0] == (5, 1_004_000, 7, 2)


def _ring(first: int, nxt: int, gen: int = 3) -> bytearray:
    mem = bytearray(b"\xff" * 0x8000)
    head = struct.pack("<4sIII", b"QMLG", gen, first, nxt)
    mem[0:18] = head + modbus_crc16(head).to_bytes(2, "little")
    for seq in range(first, nxt):
        rec = struct.pack("<IIIIIIHHHHHBBBBB", seq, 1000 + seq // 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
                          seq % 4, 0, 0, 0)
        at = BASE + seq % CAP * REC_BYTES
        mem[at:at + REC_BYTES] = rec + modbus_crc16(rec).to_bytes(2, "little")
    return mem


def test_ring_checker_sees_lost_torn_and_misplaced_readings():
    mem = _ring(5, 17)
    head, recs, bad = read_ring(bytes(mem))
    assert head == (5, 17) and sorted(recs) == list(range(5, 17)) and bad == []
    mem[BASE + 9 * REC_BYTES + 3] ^= 0x40                # reading 9 torn
    assert read_ring(bytes(mem))[2] == ["reading 9: bad CRC"]
    mem = _ring(5, 17)
    mem[BASE + 12 * REC_BYTES:BASE + 13 * REC_BYTES] = mem[BASE + 11 * REC_BYTES:BASE + 12 * REC_BYTES]
    assert read_ring(bytes(mem))[2] == ["reading 12: holds number 11"]
    mem[2] ^= 1                                          # the only header copy torn
    assert read_ring(bytes(mem))[2] == ["no valid header copy"]
    assert read_ring(bytes(_ring(5, 6 + CAP)))[2] == [f"header: {CAP + 1} readings kept, the ring holds {CAP}"]


def test_bad_cut_settings_are_refused_naming_the_field(firmware):
    elf = firmware("f413rg", "meter_mu")
    head = f"firmware: {elf}\nsystem: meter\nscenario:\n"
    with pytest.raises(MetersimError) as e:
        parse_spec(head + "  cuts: {count: 3, kinds: {brownout: 1}}\nseeds: [1]\n")
    assert "scenario.cuts.kinds key 'brownout'" in str(e.value) and "upgrade" in str(e.value)
    with pytest.raises(MetersimError) as e:
        parse_spec(head + "  cuts: {count: 3, gap: [3s, 1s]}\nseeds: [1]\n")
    assert "scenario.cuts.gap: expected from < to" in str(e.value)
    with pytest.raises(MetersimError) as e:
        parse_spec(head.replace("system: meter", "system: query-manager") + "  cuts: {count: 0}\nseeds: [1]\n")
    assert "scenario.cuts.count: expected an integer in 1..1000" in str(e.value)


# ---- determinism: reruns of one seed give one trace (determinism_meter.yaml, determinism_qm.yaml)

def test_reruns_of_a_meter_and_a_query_manager_scenario_give_one_trace_each(firmware):
    """Two runs of the same cut scenario per system give the same trace hash (consoles, stores and
    the campaign's checks after every start). About 16 s of CPU per system pair."""
    runs = {
        ("meter", 5): "system: meter\nscenario:\n  cuts: {count: 1, kinds: {plain: 1}}\nseeds: [5]\n",
        ("query-manager", 5): "system: query-manager\nscenario:\n  cuts: {count: 2, gap: [0.2s, 1s], "
                              "kinds: {plain: 1, eeprom_write: 1}}\nseeds: [5]\n",
    }
    elf = {"meter": firmware("f413rg", "meter_mu"), "query-manager": firmware("f103rc", "query_manager")}
    for (system, _seed), text in runs.items():
        first, again = (_run(text, elf[system]) for _ in range(2))
        assert first["passed"] and again["passed"], (first["failures"], again["failures"])
        assert first["trace_sha1"] and first["trace_sha1"] == again["trace_sha1"], system
