"""Campaign system `controller-link`: the metering controller's Modbus RTU link under attack.

mode `fuzz`: `frames` seeded frames (bad CRC, wrong lengths, random function codes, truncated,
other addresses, broadcasts, back-to-back pairs, requests with a silence inside them, illegal
reads and writes); every reply is
compared with `modbus_expect.expect` (computed in Python from the register map, not from the
firmware). Every 200 frames and at the end the controller must answer a read (no hang); at the
end input register 0x000D (watchdog resets) must read 0 and the console show one start only.

mode `bus_faults`: `episodes` of `noise_ms` during which noise bursts and a second talker's
characters (collisions) hit the bus while the master polls settings it knows; a reply is either
exactly right or absent (no corrupted value accepted), the settings are unchanged at the end,
and after each episode a correct reply comes back within `recover_s`.

Figures (`figures` in the row): frames, replies checked, wrong replies, exceptions by code,
requests sent with a silence inside, watchdog resets; polls, correct, absent, corrupted
accepted, worst recovery time.
"""

from __future__ import annotations

import hashlib
import random

from metersim._campaign import fields as F
from metersim._campaign.modbus_expect import expect, expect_stream, mapped, matches
from metersim._campaign.spec_source import Source
from metersim._protocols.modbus.framer import encode_adu
from metersim._units import PS_PER_MS, PS_PER_S

NAME = "controller-link"
KEYS = {"firmware": "firmware name", "boot": "boot time", "channels": "4 or 32", "mode": "fuzz or bus_faults",
        "frames": "frames to send (fuzz)", "reply_window_ms": "wait for a reply", "episodes": "noise episodes",
        "noise_ms": "episode length", "bursts": "noise bursts per episode", "burst_ms": "burst length",
        "collisions": "foreign transmissions per episode", "recover_s": "recovery limit", "repeat": "a label"}
CHECK_EVERY = 200


def validate(src: Source, path: tuple, t, firmware_names: list[str]) -> dict:
    t = F.mapping(src, path, t, KEYS)
    fw_default = firmware_names[0] if len(firmware_names) == 1 else F.MISSING
    n = lambda k, d, lo, hi, integer=False: F.number(src, path + (k,), t.get(k, d), lo, hi, integer=integer)  # noqa: E731
    return {"firmware": F.choice(src, path + ("firmware",), F.get(src, t, path, "firmware", fw_default), firmware_names),
            "boot_ps": F.duration_ps(src, path + ("boot",), t.get("boot", "1.5s")),
            "channels": F.choice(src, path + ("channels",), t.get("channels", 4), [4, 32]),
            "mode": F.choice(src, path + ("mode",), F.get(src, t, path, "mode"), ["fuzz", "bus_faults"]),
            "frames": n("frames", 1000, 1, 10_000_000, True),
            "reply_window_ms": n("reply_window_ms", 40.0, 5, 1000),
            "episodes": n("episodes", 10, 1, 100_000, True),
            "noise_ms": n("noise_ms", 300.0, 1, 60_000),
            "bursts": n("bursts", 5, 0, 1000, True),
            "burst_ms": n("burst_ms", 2.0, 0.01, 1000),
            "collisions": n("collisions", 3, 0, 1000, True),
            "recover_s": n("recover_s", 1.0, 0.01, 60),
            "repeat": t.get("repeat", 0)}


# ---- the fuzzer's frames ----------------------------------------------------------------------

def _valid_read(rng, ch) -> bytes:
    fn = rng.choice((3, 4))
    regs = sorted(mapped("input" if fn == 4 else "holding", ch))
    a = rng.choice(regs)
    run = 1
    while run < 125 and a + run in regs:
        run += 1
    return encode_adu(1, bytes([fn]) + a.to_bytes(2, "big") + rng.randint(1, run).to_bytes(2, "big"))


def _unmapped_write(rng, ch) -> bytes:
    regs = mapped("holding", ch)
    if rng.random() < 0.4:
        a = rng.randrange(0x10000)
        while a in regs:
            a = rng.randrange(0x10000)
        return encode_adu(1, bytes([6]) + a.to_bytes(2, "big") + rng.randbytes(2))
    # a range starting in the map and running past it (exception 02 before any value is looked at)
    a = rng.choice(sorted(regs))
    end = a
    while end in regs:
        end += 1
    count = min(123, end - a + rng.randint(1, 8))
    return encode_adu(1, bytes([16]) + a.to_bytes(2, "big") + count.to_bytes(2, "big")
                      + bytes([2 * count]) + rng.randbytes(2 * count))


# silences inside a request, in character times: within t1.5 (one frame), past it (incomplete:
# dropped), and t3.5 or more (two frames); never within 0.05 character of either limit
GAPS_CHARS = (0.5, 1.0, 1.4, 1.6, 2.0, 2.5, 3.0, 3.4, 3.6, 5.0)


def fuzz_frame(rng: random.Random, ch: int) -> tuple[str, list[bytes], list[float] | None]:
    """(kind, [part, ...], gaps): `gaps` None sends each part as an ADU of its own, t3.5
    apart; else gaps[i] character times of silence separate part i and i + 1."""
    k = rng.random()
    if k < 0.15:
        return "valid read", [_valid_read(rng, ch)], None
    if k < 0.30:
        fn = rng.choice((3, 4))
        start = rng.choice((rng.randrange(0x10000), rng.choice((0, 0x800, 0x900, 0x1000, 0x2000, 0x3000))
                            + rng.randint(-4, 0x90)))
        count = rng.choice((0, rng.randint(1, 20), rng.randint(100, 140)))
        return "random read", [encode_adu(1, bytes([fn]) + (start & 0xFFFF).to_bytes(2, "big") + count.to_bytes(2, "big"))], None
    if k < 0.40:
        if rng.random() < 0.5:
            return "random bytes", [rng.randbytes(rng.randint(1, 40))], None
        a = bytearray(_valid_read(rng, ch))
        a[-rng.randint(1, 2)] ^= rng.randint(1, 255)
        return "bad CRC", [bytes(a)], None
    if k < 0.50:
        fn = rng.choice((3, 4, 6, 8, 16))
        size = rng.choice([s for s in range(0, 13) if s != 4 or fn in (8, 16)])
        return "wrong length", [encode_adu(1, bytes([fn]) + rng.randbytes(size))], None
    if k < 0.60:
        fn = rng.choice([f for f in range(256) if f not in (3, 4, 6, 8, 16)])
        return "random function", [encode_adu(1, bytes([fn]) + rng.randbytes(rng.randint(0, 8)))], None
    if k < 0.70:
        a = _valid_read(rng, ch)
        return "truncated", [a[:rng.randint(1, len(a) - 1)]], None
    if k < 0.75:
        a = _valid_read(rng, ch)
        return "other address", [encode_adu(rng.randint(2, 247), a[1:-2])], None
    if k < 0.80:
        pdu = rng.choice((_valid_read(rng, ch), _unmapped_write(rng, ch)))[1:-2]
        return "broadcast", [encode_adu(0, pdu)], None
    if k < 0.90:
        return "illegal write", [_unmapped_write(rng, ch)], None
    if k < 0.95:
        sub = rng.choice((0x00, 0x0B, 0x0C, 0x0D, rng.randrange(0x10000)))
        data = rng.randbytes(2) if sub != 0 else rng.randbytes(rng.randint(0, 20))
        return "diagnostics", [encode_adu(1, bytes([8]) + sub.to_bytes(2, "big") + data)], None
    if k < 0.975:
        a = _valid_read(rng, ch)
        cut = rng.randint(1, len(a) - 1)
        return "silence inside", [a[:cut], a[cut:]], [rng.choice(GAPS_CHARS)]
    first = rng.choice((encode_adu(rng.randint(2, 247), b"\x03\x00\x00\x00\x01"), rng.randbytes(6)))
    return "back to back", [first, _valid_read(rng, ch)], None


# ---- the run ----------------------------------------------------------------------------------

class _Link:
    """The master's side: send ADUs, collect the CRC-valid frames heard until the line is quiet."""

    def __init__(self, emu, bus, window_ps: int):
        from metersim._cabinet.modbus_master import ModbusMaster

        self.emu = emu
        self.m = ModbusMaster(emu, bus, timeout="1s")
        self.window_ps = window_ps

    def exchange(self, adus: list[bytes], gaps_chars: list[float] | None = None) -> list[bytes]:
        """Send `adus` t3.5 apart, or with `gaps_chars` character times of silence between."""
        m = self.m
        m._quiet_line()
        n0 = len(m.frames)
        end = m.link.send(adus[0])
        for i, a in enumerate(adus[1:]):
            gap = m.timing.t35_ps if gaps_chars is None else round(gaps_chars[i] * m.timing.char_ps)
            end = m.link.send(a, at_ps=end + gap)
        m._tx_end_ps = end
        self.emu.run_until_time(end + self.window_ps)
        while m._rx_end_ps > end and m._rx_end_ps + 2 * m.timing.t35_ps > self.emu.now_ps:
            self.emu.run_until_time(m._rx_end_ps + 2 * m.timing.t35_ps)   # a reply still coming
        return [f.data for f in m.frames[n0:] if f.valid]


def _alive(link: _Link, failures: list, when: str) -> None:
    from metersim._errors import MetersimError
    try:
        link.m.read_input(0x0001, 1)
    except MetersimError as e:
        failures.append(f"hang: no answer to a plain read {when}: {e}")


def _fuzz(sc, seed, emu, board, link, digest) -> tuple[dict, list]:
    rng = random.Random(seed * 7919 + 5)
    ch, failures = sc["channels"], []
    fig = {"frames": 0, "replies_due": 0, "wrong_replies": 0}
    for i in range(sc["frames"]):
        kind, adus, gaps = fuzz_frame(rng, ch)
        wants = [expect(a, ch) for a in adus] if gaps is None else expect_stream(adus, gaps, ch)
        heard = link.exchange(adus, gaps)
        digest.update(repr((kind, adus, gaps, heard)).encode())
        fig["frames"] += len(wants)
        if gaps is not None:
            fig["silences_inside"] = fig.get("silences_inside", 0) + 1
        want = next((w for w in wants if w[0] != "none"), wants[-1])
        fig["replies_due"] += want[0] != "none"
        if want[0] == "exception":
            fig[f"exception_{want[2]:02d}"] = fig.get(f"exception_{want[2]:02d}", 0) + 1
        why = matches(want, heard)
        if gaps is not None and len(wants) > 1 and wants[0][0] != "none":
            # the request's first part is a whole frame by chance (its last two bytes match its
            # CRC: 1 in 65,536): the slave's reply to it and the rest of the request, sent t3.5+
            # later, collide on the line, so the reply may be lost; a wrong one still fails
            fig["prefix_frames"] = fig.get("prefix_frames", 0) + 1
            why = "" if not heard or not matches(wants[0], heard) else why
        if why:
            fig["wrong_replies"] += 1
            if len(failures) < 20:
                failures.append(f"frame {i} ({kind}{f', gaps {gaps} chars' if gaps else ''}) "
                                f"{' | '.join(a.hex(' ') for a in adus)}: {why}")
        if (i + 1) % CHECK_EVERY == 0:
            _alive(link, failures, f"after frame {i}")
            if len(failures) >= 20:
                break
    return fig, failures


def _bus_faults(sc, seed, emu, board, link, digest) -> tuple[dict, list]:
    from metersim._errors import MetersimError

    rng = random.Random(seed * 7919 + 9)
    m, bus, failures = link.m, board.bus, []
    known = {0x2003: m.read_holding(0x2003, 15), 0x0000: m.read_input(0x0000, 2)}
    a1 = known[0x2003][:2]
    polls = [(encode_adu(1, b"\x03\x20\x03\x00\x0f"), "read", known[0x2003]),
             (encode_adu(1, b"\x04\x00\x00\x00\x02"), "read", known[0x0000]),
             (encode_adu(1, b"\x10\x20\x03\x00\x02\x04" + b"".join(v.to_bytes(2, "big") for v in a1)), "echo", None)]
    intruder = bus.attach_host("intruder")
    fig = {"episodes": 0, "polls": 0, "correct": 0, "absent": 0, "corrupted_accepted": 0, "worst_recovery_s": 0.0}

    def poll(k: int) -> bool | None:
        adu, kind, regs = polls[k % len(polls)]
        heard = [f for f in link.exchange([adu]) if f[0] == 1]
        fig["polls"] += 1
        if not heard:
            fig["absent"] += 1
            return None
        body = heard[-1][:-2]
        good = (body == adu[:6]) if kind == "echo" else \
            (body[:3] == adu[:2] + bytes([2 * len(regs)]) and body[3:] == b"".join(v.to_bytes(2, "big") for v in regs))
        if good and len(heard) == 1:
            fig["correct"] += 1
            return True
        fig["corrupted_accepted"] += 1
        failures.append(f"corrupted reply accepted to {adu.hex(' ')}: {[h.hex(' ') for h in heard]}")
        return False

    k = 0
    for _ in range(sc["episodes"]):
        t0 = emu.now_ps
        t1 = t0 + round(sc["noise_ms"] * PS_PER_MS)
        burst = round(sc["burst_ms"] * PS_PER_MS)
        for _ in range(sc["bursts"]):
            bus.noise_burst(burst, at_ps=rng.randint(t0, t1 - burst))
        for _ in range(sc["collisions"]):
            intruder.send(rng.randbytes(rng.randint(1, 8)), at_ps=rng.randint(t0, t1))
        while emu.now_ps < t1 or intruder.sending:
            poll(k)
            k += 1
        quiet = max(t1, emu.now_ps)
        recovered = None
        while emu.now_ps < quiet + round(2 * sc["recover_s"] * PS_PER_S):
            if poll(k):
                recovered = (emu.now_ps - quiet) / PS_PER_S
                k += 1
                break
            k += 1
        fig["episodes"] += 1
        if recovered is None or recovered > sc["recover_s"]:
            failures.append(f"episode {fig['episodes']}: no correct reply within {sc['recover_s']} s "
                            f"after the noise ({recovered})")
            recovered = recovered or 2 * sc["recover_s"]
        fig["worst_recovery_s"] = max(fig["worst_recovery_s"], round(recovered, 4))
    try:
        after = m.read_holding(0x2003, 15)
        if after != known[0x2003]:
            failures.append(f"settings changed under noise: {known[0x2003]} -> {after}")
    except MetersimError as e:
        failures.append(f"no answer after the episodes: {e}")
    digest.update(repr(fig).encode())
    return fig, failures


def run(sc: dict, seed: int, elf_paths: dict) -> dict:
    from metersim._cabinet.board import build_controller, new_bus
    from metersim._cabinet.scenario import prepare_rooms
    from metersim._engine.emulation import Emulation
    from metersim._errors import MetersimError

    digest = hashlib.sha1()
    emu = Emulation(seed=seed, wall_guard_s=600.0)
    bus = new_bus(emu)
    bus.on_tap(lambda r: digest.update(repr((r.start_ps, r.end_ps, r.driver, r.value, r.corrupted)).encode()))
    board = build_controller(emu, channels=sc["channels"], elf=elf_paths[sc["firmware"]], bus=bus)
    emu.run_until_time(sc["boot_ps"])
    link = _Link(emu, bus, round(sc["reply_window_ms"] * PS_PER_MS))
    prepare_rooms(link.m, sc["channels"], credit_cents=100_000, alarm1_cents=5000, alarm2_cents=1000)
    fig, failures = (_fuzz if sc["mode"] == "fuzz" else _bus_faults)(sc, seed, emu, board, link, digest)
    console = board.console.text
    try:
        wd = link.m.read_input(0x000D, 1)[0]
    except MetersimError as e:
        wd = None
        failures.append(f"hang: no answer at the end: {e}")
    fig["watchdog_resets"] = wd
    fig["restarts"] = console.count("reset cause") - 1
    if wd or "reset cause: watchdog" in console or fig["restarts"]:
        failures.append(f"the controller restarted: {fig['restarts']} restarts, "
                        f"watchdog resets register {wd}")
    digest.update(console.encode())
    digest.update(repr(board.machine.cpu.instructions).encode())
    return {"passed": not failures, "failures": failures, "figures": fig,
            "virtual_s": emu.now_ps / PS_PER_S, "instructions": board.machine.cpu.instructions,
            "trace_sha1": digest.hexdigest(), "artefacts": {"console.txt": console.encode()}}

