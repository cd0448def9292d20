"""The factory image of the management unit's on-chip flash (docs/meter_flash_layout.md):
bootloader + boot descriptor, RTOS image, flashfs (start.par, services, apps), packed from a
YAML manifest into one flashable binary of the whole 1 MiB, and read back part by part.

Manifest (paths relative to the manifest's folder):

    bootloader: {elf: build/fw/f413rg/meter_boot.elf, version: 1.0.0}     # or bin:
    rtos: {elf: build/fw/f413rg/meter_rtos_demo.elf, name: rtos, version: 1.0.0}
    apps:                                  # services too (kind: service)
      - {name: demo, elf: build/fw/f413rg/demo_app.elf, version: 1.0.0}
    start:                                 # start.par, in start order
      - {file: demo, prio: 20, max_threads: 2, max_kobjs: 4, max_files: 2, stack_size: 1024,
         perms: [eeprom_rd], eeprom: [[0x1000, 0x400]], autostart: true}
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from metersim._errors import SetupError
from metersim._image.elfimage import boot_bytes, image_from_elf
from metersim._image.flashfs import (FLAG_UPGRADABLE, FLASHFS_BASE, FLASHFS_SIZE, FlashFile,
                                    build_flashfs, read_flashfs)
from metersim._image.header import (HEADER_SIZE, ImageError, ImageHeader, Kind, check_image,
                                   make_image)
from metersim._image.startpar import Perm, StartRecord, encode_start_par

FLASH_BASE = 0x08000000
FLASH_SIZE = 0x100000
BOOT_SIZE = 0x8000
BOOT_DESCRIPTOR = 0x7F00          # offset of the boot descriptor (kind 5) in the image
RTOS_OFFSET = 0x8000
RTOS_SIZE = 0x38000
FLASHFS_OFFSET = FLASHFS_BASE - FLASH_BASE
START_PAR_OFFSET = 0x400          # in the flashfs region
SECTOR_128K = 0x20000


def sector_bounds(addr: int) -> tuple[int, int]:
    """The F413 flash sector holding addr: (start, end)."""
    off = addr - FLASH_BASE
    if off < 0x10000:
        start, size = off & ~0x3FFF, 0x4000
    elif off < 0x20000:
        start, size = 0x10000, 0x10000
    else:
        start, size = off & ~(SECTOR_128K - 1), SECTOR_128K
    return FLASH_BASE + start, FLASH_BASE + start + size


def _load_manifest(path: Path) -> dict:
    import yaml
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as e:
        raise SetupError(f"{path}: {e.strerror}") from None
    except yaml.YAMLError as e:
        raise SetupError(f"{path}: not valid YAML ({e})") from None
    if not isinstance(data, dict):
        raise SetupError(f"{path}: expected a mapping with bootloader, rtos, apps, start")
    unknown = set(data) - {"bootloader", "rtos", "apps", "start"}
    if unknown:
        raise SetupError(f"{path}: unknown keys {sorted(unknown)} (bootloader, rtos, apps, start)")
    for key in ("bootloader", "rtos"):
        if not isinstance(data.get(key), dict):
            raise SetupError(f"{path}: '{key}' is missing (a mapping with elf: and version:)")
    return data


def _file(base: Path, entry: dict, key: str, where: str) -> Path:
    if key not in entry:
        raise SetupError(f"{where}: '{key}' is missing")
    p = Path(entry[key])
    p = p if p.is_absolute() else base / p
    if not p.is_file():
        raise SetupError(f"{where}: {p} not found (build the firmware with `make firmware`)")
    return p


def _perms(value, where: str) -> int:
    if isinstance(value, int):
        return value
    out = 0
    for name in value or []:
        try:
            out |= Perm[str(name).upper()]
        except KeyError:
            raise SetupError(f"{where}: unknown permission {name!r} "
                             f"(one of {', '.join(p.name.lower() for p in Perm)})") from None
    return out


def pack(manifest: str | Path) -> bytes:
    """The factory image (1 MiB) from a manifest (see the module's docstring)."""
    manifest = Path(manifest)
    base = manifest.parent
    m = _load_manifest(manifest)
    out = bytearray(b"\xFF" * FLASH_SIZE)
    # bootloader + its descriptor
    bl = m["bootloader"]
    boot = boot_bytes(_file(base, bl, "bin" if "bin" in bl else "elf", "bootloader"))
    if len(boot) > BOOT_DESCRIPTOR:
        raise ImageError(f"bootloader: {len(boot)} bytes reach past the boot descriptor at "
                         f"0x{FLASH_BASE + BOOT_DESCRIPTOR:08x}")
    out[:len(boot)] = boot
    desc = make_image(Kind.BOOT, "bootloader", boot, version=bl.get("version", "0.0.0"),
                      load_addr=FLASH_BASE, entry=int.from_bytes(boot[4:8], "little"))
    out[BOOT_DESCRIPTOR:BOOT_DESCRIPTOR + HEADER_SIZE] = desc[:HEADER_SIZE]
    # RTOS
    rt = m["rtos"]
    rtos = image_from_elf(_file(base, rt, "elf", "rtos"), Kind.RTOS, rt.get("name", "rtos"),
                          rt.get("version", "0.0.0"))
    h = ImageHeader.unpack(rtos)
    if h.load_addr != FLASH_BASE + RTOS_OFFSET or len(rtos) > RTOS_SIZE:
        raise ImageError(f"rtos: linked at 0x{h.load_addr:08x} with {len(rtos)} bytes; the RTOS "
                         f"region is 0x{FLASH_BASE + RTOS_OFFSET:08x} + 0x{RTOS_SIZE:x}")
    out[RTOS_OFFSET:RTOS_OFFSET + len(rtos)] = rtos
    # flashfs: start.par, then the apps at the addresses they are linked for
    files = []
    names = set()
    for i, a in enumerate(m.get("apps") or []):
        where = f"apps[{i}]"
        if not isinstance(a, dict) or "name" not in a:
            raise SetupError(f"{where}: a mapping with name:, elf:, version:")
        kind = {"app": Kind.APP, "service": Kind.SERVICE}.get(a.get("kind", "app"))
        if kind is None:
            raise SetupError(f"{where}: kind {a['kind']!r}: app or service")
        img = image_from_elf(_file(base, a, "elf", where), kind, a["name"],
                             a.get("version", "0.0.0"))
        load = ImageHeader.unpack(img).load_addr
        lo, hi = sector_bounds(load)
        whole = load == lo and load + len(img) <= hi
        extent = hi - load if whole else (len(img) + 3) & ~3
        files.append(FlashFile(a["name"], img, load - FLASHFS_BASE, extent,
                               FLAG_UPGRADABLE if whole else 0))
        names.add(a["name"])
    records = []
    for i, s in enumerate(m.get("start") or []):
        where = f"start[{i}]"
        if not isinstance(s, dict) or "file" not in s:
            raise SetupError(f"{where}: a mapping with file: and the process's limits")
        if s["file"] not in names:
            raise SetupError(f"{where}: file {s['file']!r} is not one of the apps "
                             f"({', '.join(sorted(names)) or 'none'})")
        known = {"file", "prio", "autostart", "max_threads", "max_kobjs", "max_files",
                 "stack_size", "perms", "eeprom"}
        if set(s) - known:
            raise SetupError(f"{where}: unknown keys {sorted(set(s) - known)}")
        kw = {k: v for k, v in s.items() if k not in ("perms", "eeprom")}
        records.append(StartRecord(**kw, perms=_perms(s.get("perms"), where),
                                   eeprom=[tuple(w) for w in s.get("eeprom") or []]))
    par = encode_start_par(records, load_addr=FLASHFS_BASE + START_PAR_OFFSET)
    files.insert(0, FlashFile("start.par", par, START_PAR_OFFSET))
    out[FLASHFS_OFFSET:] = build_flashfs(files, FLASHFS_SIZE, FLASHFS_BASE)
    return bytes(out)


@dataclass
class Part:
    name: str
    offset: int
    size: int
    kind: str
    version: str
    crc32: int
    sha256: bytes
    extent: int = 0
    flags: int = 0

    @property
    def address(self) -> int:
        return FLASH_BASE + self.offset


def read_factory_image(data: bytes) -> list[Part]:
    """The parts of a factory image, every check made; ImageError says what is wrong and
    where (offset, field, expected and found)."""
    if len(data) != FLASH_SIZE:
        first_missing = ("the bootloader" if len(data) < BOOT_SIZE else "the RTOS image"
                         if len(data) < FLASHFS_OFFSET else "the flashfs")
        if len(data) < FLASH_SIZE:
            raise ImageError(f"factory image: {len(data)} bytes, expected {FLASH_SIZE} (the "
                             f"on-chip flash): truncated at offset 0x{len(data):x}, inside "
                             f"{first_missing}")
        raise ImageError(f"factory image: {len(data)} bytes, more than the {FLASH_SIZE}-byte "
                         "on-chip flash")
    parts = []
    # the boot descriptor's payload is the bootloader's code at offset 0
    desc = data[BOOT_DESCRIPTOR:BOOT_DESCRIPTOR + HEADER_SIZE]
    length = min(ImageHeader.unpack(desc).length, BOOT_DESCRIPTOR)
    h = check_image(desc + data[:length], at=BOOT_DESCRIPTOR, kind=Kind.BOOT,
                    where=f"bootloader (descriptor at 0x{BOOT_DESCRIPTOR:x}, code from 0x0)")
    parts.append(Part("bootloader", 0, h.length, "boot", h.version_str, h.crc32, h.sha256))
    rh = check_image(data[RTOS_OFFSET:RTOS_OFFSET + RTOS_SIZE], at=RTOS_OFFSET,
                     where="RTOS image", run_addr=FLASH_BASE + RTOS_OFFSET, kind=Kind.RTOS)
    parts.append(Part(f"rtos ({rh.name})", RTOS_OFFSET, HEADER_SIZE + rh.length, "rtos",
                      rh.version_str, rh.crc32, rh.sha256))
    for f in read_flashfs(data[FLASHFS_OFFSET:], FLASHFS_BASE, at=FLASHFS_OFFSET):
        fh = ImageHeader.unpack(f.data)
        parts.append(Part(f.name, FLASHFS_OFFSET + f.offset, len(f.data), fh.kind_name,
                          fh.version_str, fh.crc32, fh.sha256, f.size, f.flags))
    return parts


def show(data: bytes, name: str = "image") -> str:
    """`metersim image show`: the parts as a table."""
    parts = read_factory_image(data)
    lines = [f"{name}: factory image of the on-chip flash, {len(data)} bytes "
             f"(0x{FLASH_BASE:08x}..0x{FLASH_BASE + len(data):08x}), {len(parts)} parts, all "
             "checks passed",
             f"{'part':<16} {'offset':>8} {'address':>10} {'size':>7} {'extent':>7} "
             f"{'kind':<7} {'version':<8} {'crc32':<8} sha256"]
    for p in parts:
        ext = f"{p.extent:>7}" if p.extent else f"{'':>7}"
        up = " upgradable" if p.flags & FLAG_UPGRADABLE else ""
        lines.append(f"{p.name:<16} 0x{p.offset:06x} 0x{p.address:08x} {p.size:>7} {ext} "
                     f"{p.kind:<7} {p.version:<8} {p.crc32:08x} {p.sha256.hex()[:16]}{up}")
    return "\n".join(lines)


pack_factory_image = pack
