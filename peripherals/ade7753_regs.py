"""ADE7753 register map as data (data sheet Rev. C register table; widths and signs cross-read
from the Linux staging, ADI no-OS and Arduino drivers; defaults marked [R] are unconfirmed).

Access: "r" read-only, "rw" read/write, "rc" read then reset to 0. Addresses 0x28..0x3C are
reserved and not in the map: reading them returns 0 and is logged once.
"""

from __future__ import annotations

from metersim.peripherals.regmap import Reg, RegisterMap

# MODE (0x09) bits
MODE_DISHPF = 1 << 0
MODE_DISLPF2 = 1 << 1
MODE_DISCF = 1 << 2
MODE_DISSAG = 1 << 3
MODE_ASUSPEND = 1 << 4
MODE_TEMPSEL = 1 << 5
MODE_SWRST = 1 << 6
MODE_CYCMODE = 1 << 7
MODE_DISCH1 = 1 << 8
MODE_DISCH2 = 1 << 9
MODE_SWAP = 1 << 10
MODE_DTRT_SHIFT = 11
MODE_WAVSEL_SHIFT = 13
MODE_POAM = 1 << 15

# STATUS / RSTSTATUS / IRQEN bits
ST_AEHF = 1 << 0
ST_SAG = 1 << 1
ST_CYCEND = 1 << 2
ST_WSMP = 1 << 3
ST_ZX = 1 << 4
ST_TEMPC = 1 << 5
ST_RESET = 1 << 6
ST_AEOF = 1 << 7
ST_PKV = 1 << 8
ST_PKI = 1 << 9
ST_VAEHF = 1 << 10
ST_VAEOF = 1 << 11
ST_ZXTO = 1 << 12
ST_PPOS = 1 << 13
ST_PNEG = 1 << 14

STATUS_NAMES = {
    ST_AEHF: "AEHF", ST_SAG: "SAG", ST_CYCEND: "CYCEND", ST_WSMP: "WSMP", ST_ZX: "ZX",
    ST_TEMPC: "TEMPC", ST_RESET: "RESET", ST_AEOF: "AEOF", ST_PKV: "PKV", ST_PKI: "PKI",
    ST_VAEHF: "VAEHF", ST_VAEOF: "VAEOF", ST_ZXTO: "ZXTO", ST_PPOS: "PPOS", ST_PNEG: "PNEG",
}

DIEREV_DEFAULT = 0x02  # [R] the data sheet gives no fixed value; drivers only print it

ADE7753_REGS = RegisterMap([
    Reg("WAVEFORM", 0x01, 24, 0, "r", True, "waveform sample; source per MODE.WAVSEL, rate per MODE.DTRT"),
    Reg("AENERGY", 0x02, 24, 0, "r", True, "active energy: upper 24 bits of the 49-bit accumulator"),
    Reg("RAENERGY", 0x03, 24, 0, "rc", True, "as AENERGY, reset to 0 after a read"),
    Reg("LAENERGY", 0x04, 24, 0, "r", True, "active energy over LINECYC half line cycles"),
    Reg("VAENERGY", 0x05, 24, 0, "r", False, "apparent energy"),
    Reg("RVAENERGY", 0x06, 24, 0, "rc", False, "as VAENERGY, reset to 0 after a read"),
    Reg("LVAENERGY", 0x07, 24, 0, "r", False, "apparent energy over LINECYC half line cycles"),
    Reg("LVARENERGY", 0x08, 24, 0, "r", True, "reactive energy over LINECYC half line cycles"),
    Reg("MODE", 0x09, 16, 0x000C, "rw", False, "mode: DISCF and DISSAG set at reset"),
    Reg("IRQEN", 0x0A, 16, 0x0040, "rw", False, "interrupt enable, same bits as STATUS"),
    Reg("STATUS", 0x0B, 16, 0, "r", False, "interrupt status"),
    Reg("RSTSTATUS", 0x0C, 16, 0, "rc", False, "STATUS, cleared by the read (releases IRQ)"),
    Reg("CH1OS", 0x0D, 8, 0, "rw", False, "ch1 offset (bits5..0 sign-magnitude), bit7 integrator on"),
    Reg("CH2OS", 0x0E, 8, 0, "rw", False, "ch2 offset (bits5..0 sign-magnitude)"),
    Reg("GAIN", 0x0F, 8, 0, "rw", False, "PGA1 bits2..0, ch1 full scale bits4..3, PGA2 bits7..5"),
    Reg("PHCAL", 0x10, 6, 0x0D, "rw", True, "phase calibration, 8/CLKIN per LSB; 0x0D = no shift [R]"),
    Reg("APOS", 0x11, 16, 0, "rw", True, "active power offset, 1/256 of an LPF2 LSB"),
    Reg("WGAIN", 0x12, 12, 0, "rw", True, "active power gain, 1/4096 per LSB"),
    Reg("WDIV", 0x13, 8, 0, "rw", False, "active energy divider (0 = 1)"),
    Reg("CFNUM", 0x14, 12, 0x3F, "rw", False, "CF numerator (value + 1)"),
    Reg("CFDEN", 0x15, 12, 0x3F, "rw", False, "CF denominator (value + 1) [R default]"),
    Reg("IRMS", 0x16, 24, 0, "r", False, "channel 1 rms"),
    Reg("VRMS", 0x17, 24, 0, "r", False, "channel 2 rms"),
    Reg("IRMSOS", 0x18, 12, 0, "rw", True, "IRMS offset: IRMS^2 = IRMS0^2 + 32768 IRMSOS"),
    Reg("VRMSOS", 0x19, 12, 0, "rw", True, "VRMS offset: VRMS = VRMS0 + VRMSOS"),
    Reg("VAGAIN", 0x1A, 12, 0, "rw", True, "apparent power gain, 1/4096 per LSB"),
    Reg("VADIV", 0x1B, 8, 0, "rw", False, "apparent energy divider (0 = 1)"),
    Reg("LINECYC", 0x1C, 16, 0xFFFF, "rw", False, "half line cycles per line-cycle accumulation [R default]"),
    Reg("ZXTOUT", 0x1D, 12, 0xFFF, "rw", False, "zero-crossing timeout, 128/CLKIN per LSB [R default]"),
    Reg("SAGCYC", 0x1E, 8, 0xFF, "rw", False, "half cycles below SAGLVL before SAG [R default]"),
    Reg("SAGLVL", 0x1F, 8, 0, "rw", False, "sag level vs upper byte of ch2 peak [R default]"),
    Reg("IPKLVL", 0x20, 8, 0xFF, "rw", False, "ch1 peak level vs upper byte of |sample| [R default]"),
    Reg("VPKLVL", 0x21, 8, 0xFF, "rw", False, "ch2 peak level vs upper byte of |sample| [R default]"),
    Reg("IPEAK", 0x22, 24, 0, "r", False, "maximum |ch1 sample|"),
    Reg("RSTIPEAK", 0x23, 24, 0, "rc", False, "as IPEAK, reset after read"),
    Reg("VPEAK", 0x24, 24, 0, "r", False, "maximum |ch2 sample|"),
    Reg("RSTVPEAK", 0x25, 24, 0, "rc", False, "as VPEAK, reset after read"),
    Reg("TEMP", 0x26, 8, 0, "r", True, "temperature, about 0.67 degC/LSB, offset part-specific"),
    Reg("PERIOD", 0x27, 16, 0, "r", False, "line period, 8/CLKIN per LSB"),
    Reg("TMODE", 0x3D, 8, 0, "rw", False, "factory test mode; stored, no effect"),
    Reg("CHKSUM", 0x3E, 6, 0, "r", False, "number of 1 bits in the last register read"),
    Reg("DIEREV", 0x3F, 8, DIEREV_DEFAULT, "r", False, "die revision [R value]"),
])
