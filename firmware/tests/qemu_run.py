#!/usr/bin/env python3
"""Run one firmware ELF under QEMU (netduinoplus2, USART1 on stdio) until it
prints a final line ("PASS", "FAIL ...", or a line given with --until), then
stop QEMU and report the lines, the wall time and the outcome. With
--stall-after LINE the run succeeds when LINE is the last line printed before
the timeout (the fault programs, which stop in the default handler).

Used by `make -C firmware qemu-check` as an independent cross-check of the
test programs and the benchmark; metersim's own engine does not need QEMU.
Exit status: 0 on success as defined above, 1 otherwise.
"""
import argparse
import os
import selectors
import subprocess
import sys
import time


def run(elf, until, timeout_s, icount, machine):
    cmd = ["qemu-system-arm", "-M", machine, "-nographic", "-kernel", elf,
           "-serial", "stdio", "-monitor", "none"]
    if icount:
        cmd[1:1] = ["-icount", "shift=0"]
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    buf, lines, outcome = b"", [], "timeout"
    try:
        while outcome == "timeout":
            left = timeout_s - (time.monotonic() - start)
            if left <= 0 or not sel.select(left):
                break
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                outcome = "qemu exited"
                break
            buf += chunk
            while b"\n" in buf:
                raw, buf = buf.split(b"\n", 1)
                line = raw.decode("ascii", "replace").rstrip("\r")
                lines.append(line)
                if line == "PASS" or line == until:
                    outcome = "ok"
                elif line.startswith("FAIL"):
                    outcome = "fail"
                if outcome != "timeout":
                    break
    finally:
        proc.kill()
        proc.wait()
    return lines, outcome, time.monotonic() - start


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("elf")
    ap.add_argument("--until", default=None, help="line that ends a successful run")
    ap.add_argument("--stall-after", default=None,
                    help="succeed when this is the last line before the timeout")
    ap.add_argument("--timeout", type=float, default=30.0, help="wall-clock limit, s")
    ap.add_argument("--icount", action="store_true", help="deterministic -icount shift=0")
    ap.add_argument("--machine", default="netduinoplus2",
                    help="netduinoplus2 (STM32F405, M4F) or stm32vldiscovery (STM32F100, M3)")
    ap.add_argument("-q", "--quiet", action="store_true", help="only the summary line")
    args = ap.parse_args()
    lines, outcome, wall = run(args.elf, args.until, args.timeout, args.icount, args.machine)
    if args.stall_after is not None:
        stalled = outcome == "timeout" and lines and lines[-1] == args.stall_after
        outcome = "ok (stalled after the expected line)" if stalled else f"{outcome}, no stall"
    if not args.quiet or not outcome.startswith("ok"):
        for line in lines:
            print("    " + line)
    where = os.path.join(os.path.basename(os.path.dirname(os.path.abspath(args.elf))),
                         os.path.basename(args.elf))
    print(f"  QEMU    {where} on {args.machine}: {outcome} ({wall:.2f} s wall)")
    sys.exit(0 if outcome.startswith("ok") else 1)


if __name__ == "__main__":
    main()
