"""`metersim image pack MANIFEST -o FILE` and `metersim image show FILE`: the management
unit's factory image (metersim._image.pack)."""

from __future__ import annotations

import argparse
from pathlib import Path

from metersim._errors import SetupError
from metersim._exit_codes import EXIT_OK

EXAMPLES = """examples:
  metersim image pack platforms/images/meter_demo.yaml -o build/meter_demo.bin
  metersim image show build/meter_demo.bin
  metersim run build/meter_demo.bin --platform platforms/boards/storage_f413.repl

exit codes: 0 ok, 1 the image is damaged (what and where on stderr), 3 bad manifest or file"""


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise SetupError(f"{path}: {e.strerror}") from None


def _cmd_pack(args) -> int:
    from metersim._image.pack import pack, show
    data = pack(args.manifest)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    print(show(data, str(out)))
    return EXIT_OK


def _cmd_show(args) -> int:
    from metersim._image.pack import show
    print(show(_read(args.file), args.file))
    return EXIT_OK


def add_image_parser(sub) -> argparse.ArgumentParser:
    """Add `image` (pack, show) to an argparse subparsers object."""
    fmt = argparse.RawDescriptionHelpFormatter
    im = sub.add_parser("image", help="factory images of the meter's on-chip flash",
                        epilog=EXAMPLES, formatter_class=fmt)
    isub = im.add_subparsers(dest="image_command", required=True, metavar="ACTION")
    p = isub.add_parser("pack", help="pack bootloader, RTOS, start parameters and apps from a "
                        "YAML manifest into one flashable binary", epilog=EXAMPLES,
                        formatter_class=fmt)
    p.add_argument("manifest", help="YAML manifest (see metersim._image.pack)")
    p.add_argument("-o", "--output", required=True, help="the binary to write")
    p.set_defaults(fn=_cmd_pack)
    s = isub.add_parser("show", help="list a factory image's parts (offsets, sizes, versions, "
                        "checksums) after checking every one", epilog=EXAMPLES,
                        formatter_class=fmt)
    s.add_argument("file", help="factory image (.bin)")
    s.set_defaults(fn=_cmd_show)
    return im
