"""Wall time per virtual second of the prepaid cabinet: three metering controllers (4, 4 and 32
rooms) alone, then with the query manager polling them and its TCP link open, side by side in
one run. `python benchmarks/bench_query_manager.py [virtual_seconds]`."""

import socket
import sys
import time

from metersim._cabinet.board import new_bus
from metersim._cabinet.query_manager import DEFAULT_ELF, build_controllers, build_query_manager
from metersim._engine.emulation import Emulation
from metersim._resources import firmware_path

SECONDS = int(sys.argv[1]) if len(sys.argv) > 1 else 20


def main() -> None:
    emu = Emulation(seed=1)
    bus = new_bus(emu)
    qm = build_query_manager(emu, bus)
    qm.machine.power_off()
    build_controllers(emu, bus, [(1, 4), (2, 4), (3, 32)],
                      firmware_path("f103rb", "metering_controller"))
    emu.run_for("2s")
    t0 = time.perf_counter()
    emu.run_for(f"{SECONDS}s")
    alone = (time.perf_counter() - t0) / SECONDS
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    qm.eth.map_port(5020, server.getsockname()[1])
    qm.load_firmware(DEFAULT_ELF)
    qm.machine.power_on()
    emu.run_until(lambda: "poll: first round done" in qm.console.line_texts(), "10s", "first round")
    t0 = time.perf_counter()
    emu.run_for(f"{SECONDS}s")
    with_qm = (time.perf_counter() - t0) / SECONDS
    frames = sum(1 for _ in bus.tap) if hasattr(bus, "tap") else 0
    print(f"controllers alone:          {alone * 1000:7.1f} ms wall per virtual s")
    print(f"with the query manager:     {with_qm * 1000:7.1f} ms wall per virtual s "
          f"({with_qm / alone:.1f}x)")
    print(f"virtual day at that rate:   {with_qm * 86400 / 60:7.1f} min")
    qm.eth.close()
    server.close()


if __name__ == "__main__":
    main()
