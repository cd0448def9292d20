"""Reading back a Modbus pcap written by metersim: our own decode of the Modbus/UDP records,
and tshark's when it is installed (`make setup` installs it from Debian)."""

import os
import shutil
import struct
import subprocess

from metersim._protocols.modbus.framer import decode_adu
from metersim._traces.pcap import read_pcap


def udp_records(pcap):
    """(src ip last byte, dst ip last byte, sport, dport, transaction id, unit, PDU) per
    Modbus/UDP record; None for a record kept as raw bytes (IP protocol 253)."""
    out = []
    for r in read_pcap(pcap)[1]:
        d = r.data
        if d[9] != 17:
            out.append(None)
            continue
        sport, dport = struct.unpack("!HH", d[20:24])
        tid, proto, length, unit = struct.unpack("!HHHB", d[28:35])
        assert proto == 0 and length == len(d) - 34
        out.append((d[15], d[19], sport, dport, tid, unit, d[35:]))
    return out


def rtu_frames(rtu_pcap):
    """(address, PDU) of every raw RTU record; ModbusFrameError if one is not one RTU frame."""
    return [decode_adu(r.data) for r in read_pcap(rtu_pcap)[1]]


def tshark_fields(pcap, fields):
    """tshark's decode of `pcap` as rows of `fields`, or None when tshark is not installed."""
    tshark = shutil.which("tshark")
    if tshark is None:
        return None
    # An empty HOME/XDG dir: no personal Wireshark preferences can help the decode.
    home = pcap.parent / "home"
    home.mkdir(exist_ok=True)
    env = dict(os.environ, HOME=str(home), XDG_CONFIG_HOME=str(home))
    cmd = [tshark, "-n", "-r", str(pcap), "-T", "fields", "-E", "separator=|"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    return [line.split("|") for line in out.stdout.splitlines()]
