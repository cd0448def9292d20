"""Power cuts during littlefs writes (program drv_lfs_powercut on the STM32F413 storage board):
50 cuts at seeded random instants, each followed by a power-on reset. A file whose close was
reported on the console ("closed <name> <crc>") before a cut must survive it: checked on the
host (littlefs-python on the NOR image file) after every cut and by the firmware itself after
every reboot ("check <name> <seq> ok"). The W25Q model leaves an interrupted page program or
sector erase half done, so some cuts land in the middle of one."""

import random
import re
import zlib

from tests.firmware.storage_board import boot, host_lfs

import pytest

SEED = 0x5EED_C07
CUTS = 50
RING = 4
# Cut uniformly within 75 ms of virtual time after "resume". After a cut the first commit
# compacts the metadata pair (littlefs cannot trust the half-programmed end of its log), and
# that includes a 45 ms sector erase: a shorter window would cut that erase every time and the
# writer would never get further.
# The F103's slower SPI clock and core need a longer window for the same progress.
WINDOW_US = {"f413rg": 75_000, "f103rb": 150_000}


def content(seq: int) -> bytes:
    """The file the firmware writes for `seq` (drv_lfs_powercut/main.c)."""
    n, x = 8 + (seq * 37) % 40, (seq * 2654435761 + 1) & 0xFFFFFFFF
    out = bytearray(seq.to_bytes(4, "little"))
    for _ in range(n):
        out.append(x >> 24)
        x = (x * 1103515245 + 12345) & 0xFFFFFFFF
    return bytes(out)


@pytest.mark.parametrize("target", ["f413rg", "f103rb"])
def test_files_closed_before_a_power_cut_survive_it(firmware, tmp_path, target):
    image = tmp_path / "w25q128.bin"
    emu, m, cap = boot(target, firmware(target, "drv_lfs_powercut"), image)
    nor = m["nor"]
    rng = random.Random(SEED)
    last_closed: dict[str, int] = {}      # name -> seq of its last reported close
    max_closed = -1                        # the last reported close of all
    seen_lines = 0
    cut_during = {"page_program": 0, "sector_erase": 0, "idle": 0}
    checks = 0

    def wait_resume(first_line: int) -> int:
        emu.run_until(lambda: any(ln.text.startswith(("resume ", "FAIL", "*** KERNEL PANIC"))
                                  for ln in cap.lines[first_line:]),
                      timeout="2s", what="the firmware to mount and check its files")
        text = [ln.text for ln in cap.lines[first_line:]]
        assert not any(t.startswith(("FAIL", "*** KERNEL")) for t in text), text
        return int(next(t for t in text if t.startswith("resume ")).split()[1])

    def allowed(name: str) -> set[int]:
        """Sequence numbers the file `name` may hold: its last reported close, or the write
        after the last reported one (the firmware drains the console after each "closed"
        line, so only that one can have been in flight)."""
        ok = {max_closed + 1} if f"p{(max_closed + 1) % RING}" == name else set()
        if name in last_closed:
            ok.add(last_closed[name])
        return ok

    writing = None                         # (name, seq) of the last "write" line seen
    resume = wait_resume(0)
    assert resume == 0 and "lfs mount: formatted" in cap.line_texts()
    for cut in range(CUTS):
        emu.run_for(f"{rng.randrange(0, WINDOW_US[target])}us")
        busy = nor.busy
        kind = nor.operations[-1][1] if busy else "idle"
        cut_during[kind] = cut_during.get(kind, 0) + 1
        m.power_off()
        # what the console showed before the cut (complete lines only); the "write" line of
        # a close may have come before the previous cut, so `writing` carries over
        for ln in cap.lines[seen_lines:]:
            w = re.fullmatch(r"write (p\d) (\d+)", ln.text)
            if w:
                writing = (w.group(1), int(w.group(2)))
            mm = re.fullmatch(r"closed (p\d) ([0-9a-f]{8})", ln.text)
            if mm:
                assert writing and writing[0] == mm.group(1), f"'{ln.text}' after {writing}"
                seq = writing[1]
                assert seq > max_closed and mm.group(2) == f"{zlib.crc32(content(seq)):08x}", ln.text
                last_closed[mm.group(1)] = max_closed = seq
        seen_lines = len(cap.lines)
        # the host's view of the image file right after the cut
        files = {f"p{k}": None for k in range(RING)}
        fs = host_lfs(image)
        for name in list(files):
            try:
                with fs.open(name, "rb") as fh:
                    files[name] = fh.read()
            except FileNotFoundError:
                pass
        for name, data in files.items():
            if name in last_closed:
                assert data, f"cut {cut}: {name} (closed as seq {last_closed[name]}) is gone"
                seq = int.from_bytes(data[:4], "little")
                assert seq in allowed(name) and data == content(seq), \
                    f"cut {cut}: {name} holds {data.hex()}, expected one of seqs {allowed(name)}"
                checks += 1
        # power back: the firmware checks the same files itself
        emu.run_for("1ms")
        m.power_on()
        resume = wait_resume(seen_lines)
        found = {}
        for ln in cap.lines[seen_lines:]:
            mm = re.fullmatch(r"check (p\d) (\d+|empty)( ok| BAD)?", ln.text)
            if mm:
                assert mm.group(3) != " BAD", f"after cut {cut}: {ln.text}"
                if mm.group(1) in last_closed:
                    assert mm.group(2) != "empty" and int(mm.group(2)) in allowed(mm.group(1)), \
                        f"after cut {cut}: {ln.text}, allowed {allowed(mm.group(1))}"
                if mm.group(2) != "empty":
                    found[mm.group(1)] = int(mm.group(2))
        assert max_closed + 1 <= resume <= max_closed + 2
        # A write that completed unreported before the cut is on the flash now: from here on
        # it is the version that must not be lost.
        last_closed.update(found)
        max_closed = resume - 1
    assert max_closed > CUTS                # the writer made progress between the cuts
    assert checks > 2 * CUTS
    print(f'cuts during: {cut_during}; {max_closed + 1} files written')
    # the seeded instants hit flash operations in progress, not only idle moments
    assert cut_during["page_program"] + cut_during["sector_erase"] >= 5, cut_during
