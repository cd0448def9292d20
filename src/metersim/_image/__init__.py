"""The management unit's images (docs/meter_flash_layout.md): the 96-byte image header
(`header`), the read-only flash file system (`flashfs`), the start-parameter file
(`startpar`), the factory image packer (`pack`) and the YMODEM sender (`ymodem`)."""

from metersim._image.header import (HEADER_SIZE, ImageError, ImageHeader, Kind, make_image,
                                   check_image)
from metersim._image.flashfs import FLASHFS_BASE, FLASHFS_SIZE, FlashFile, build_flashfs, read_flashfs
from metersim._image.startpar import Perm, StartRecord, encode_start_par, decode_start_par

__all__ = ["HEADER_SIZE", "ImageError", "ImageHeader", "Kind", "make_image", "check_image",
           "FLASHFS_BASE", "FLASHFS_SIZE", "FlashFile", "build_flashfs", "read_flashfs",
           "Perm", "StartRecord", "encode_start_par", "decode_start_par"]
