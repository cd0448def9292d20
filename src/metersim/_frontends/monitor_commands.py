"""The monitor's commands (Renode's names), one small handler each, registered with their
signature and help in metersim._frontends.monitor_registry. Handlers get the Monitor and their
parsed arguments and return what the command prints."""

from __future__ import annotations

import time
from pathlib import Path

from metersim._engine.debug import Debugger
from metersim._errors import MetersimError
from metersim._frontends.monitor_registry import command
from metersim._frontends.monitor_syntax import MonitorError
from metersim._frontends.uart_hub import UartHub
from metersim._units import PS_PER_S, format_time


def format_hms(ps: int) -> str:
    """Renode's TimeInterval text: hh:mm:ss.ffffff."""
    us = ps // 1_000_000
    s, us = divmod(us, 1_000_000)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    return f"{h:02d}:{m:02d}:{s:02d}.{us:06d}"


# ============================================================================ machines
@command("mach", "", "the machines; * marks the selected one")
def mach_list(mon):
    slots = mon.slots
    if not slots:
        return "no machines; `mach create \"name\"` creates one"
    return "\n".join(f"{'*' if n == mon.current_machine_name else ' '} {i}: {n}"
                     + ("" if s.machine is not None else " (no platform yet)")
                     for i, (n, s) in enumerate(slots.items()))


@command("mach create", "[<name:text>]", "create a machine and select it")
def mach_create(mon, name):
    slot = mon.create_slot(name)
    return f"machine {slot.name!r} created and selected"


@command("mach set", "<machine:token>", "select a machine by name or index")
def mach_set(mon, machine):
    names = list(mon.slots)
    if machine.kind == "number":
        i = machine.value
        if not isinstance(i, int) or not 0 <= i < len(names):
            raise MonitorError(f"mach set {machine.text}: no machine with that index; there are "
                               f"{len(names)} (0..{len(names) - 1})")
        mon.select(names[i])
    else:
        mon.select(str(machine.value))


@command("mach rem", "<name:text>", "remove a machine")
def mach_rem(mon, name):
    slot = mon.slots.get(name)
    if slot is None:
        raise MonitorError(f"mach rem: no machine named {name!r}")
    mon.remove_machine(slot)
    return f"machine {name!r} removed"


@command("mach clear", "", "deselect the current machine")
def mach_clear(mon):
    mon.select(None)


@command("clear", "[<force:--force>]", "remove every machine, hub and analyzer and start a new "
         "emulation; asks first in the console, scripts say `clear --force`",
         aliases=("Clear",))
def clear(mon, force):
    names = [s.name for s in mon.slots.values()]
    if names and force is None:
        question = (f"remove {len(names)} machine{'s' if len(names) > 1 else ''} "
                    f"({', '.join(names)}) and their state?")
        if mon.confirm is None:
            raise MonitorError(f"clear: would {question[:-1]}; `clear --force` does it without "
                               "asking")
        if not mon.confirm(question):
            return "clear: nothing removed"
    mon.clear()
    return f"removed {', '.join(names)}" if names else ""


# ============================================================================ machine
@command("machine LoadPlatformDescription", "<file:path>", "build the machine from a .repl")
def load_platform(mon, file):
    return mon.load_platform(mon.slot(), ("file", str(file)))


@command("machine LoadPlatformDescriptionFromString", "<repl:text>",
         "build the machine from .repl text")
def load_platform_string(mon, repl):
    return mon.load_platform(mon.slot(), ("text", repl))


@command("machine Reset", "", "reset the machine, then run the `reset` macro if defined")
def machine_reset(mon):
    m = mon.machine
    Debugger.of(m).reset()
    out = f"{m.name}: reset; PC 0x{m.cpu.pc & ~1:08X}"
    if "reset" in mon.macros:
        more = mon.run_macro("reset")
        out += ("\n" + more) if more else ""
    return out


@command("machine StartGdbServer", "<port:int> [<autostartEmulation:bool>] [<cpu:token>]",
         "serve the machine to GDB (`monitor <command>` in GDB runs a monitor command); "
         "the target halts while GDB is attached, a detach leaves the run state as it was")
def start_gdb(mon, port, autostartEmulation, cpu):
    from metersim._frontends.gdb_stub import GdbServer

    machine = mon.machine
    server = GdbServer(mon.emulation, machine, port, monitor=mon).start()
    mon.gdb_servers.append(server)
    return f"{machine.name}: GDB server listening on port {server.port}"


@command("machine Name", "", "the machine's name")
def machine_name(mon):
    return mon.slot().name


@command("machine Start", "", "start the emulation")
def machine_start(mon):
    return start(mon)


@command("machine Pause", "", "pause the emulation")
def machine_pause(mon):
    return pause(mon)


@command("machine SetQuantum", "<quantum:duration>", "the synchronisation quantum")
def machine_quantum(mon, quantum):
    return set_quantum(mon, quantum)


@command("machine SetAdvanceImmediately", "<on:bool>", "run free instead of at real time")
def machine_advance(mon, on):
    return advance_immediately(mon, on)


@command("machine GetClockSourceInfo", "", "the machine's clocks")
def clock_info(mon):
    m = mon.machine
    rates = getattr(m.clocks, "rates", None)
    if callable(rates):
        rates = rates()
    if not isinstance(rates, dict):
        rates = {k: m.clocks.rate_hz(k) for k in ("SYSCLK", "HCLK", "PCLK1", "PCLK2")}
    lines = [f"{m.name}: core {m.cpu.freq_hz / 1e6:g} MHz"]
    lines += [f"  {k}: {v / 1e6:g} MHz" for k, v in sorted(rates.items())]
    return "\n".join(lines)


# ============================================================================ sysbus
@command("sysbus LoadELF", "<file:path> [<extra:token>...]", "load an ELF and reset the core")
def load_elf(mon, file, extra):
    from metersim._engine.platform_builder import load_firmware

    m = mon.machine
    fw = load_firmware(m, file)
    mon.slots[m.name].attached = True
    entry = getattr(fw, "entry", None)
    return (f"{m.name}: loaded {file.name}" + (f", entry 0x{entry:08X}" if entry is not None else "")
            + f", PC 0x{m.cpu.pc & ~1:08X}")


@command("sysbus LoadBinary", "<file:path> <address:int>", "load raw bytes at an address")
def load_binary(mon, file, address):
    m = mon.machine
    data = file.read_bytes()
    m.sysbus.write_memory(address, data)
    mon.reset_if_bootable(m)
    return f"{m.name}: {len(data)} bytes at 0x{address:08X}"


def _bus_read(size: int, method: str):
    def read(mon, address):
        try:
            value = mon.machine.sysbus.read_word(address, size)
        except MetersimError as exc:
            raise MonitorError(f"sysbus {method} 0x{address:08X}: {exc}") from None
        return f"0x{value:0{2 * size}X}"
    return read


def _bus_write(size: int, method: str):
    def write(mon, address, value):
        if not 0 <= value < (1 << (8 * size)) and not -(1 << (8 * size - 1)) <= value < 0:
            raise MonitorError(f"sysbus {method}: value {value} does not fit in {8 * size} bits")
        try:
            mon.machine.sysbus.write_word(address, value & ((1 << (8 * size)) - 1), size)
        except MetersimError as exc:
            raise MonitorError(f"sysbus {method} 0x{address:08X}: {exc}") from None
    return write


for _width, _size in (("DoubleWord", 4), ("Word", 2), ("Byte", 1)):
    command(f"sysbus Read{_width}", "<address:int>",
            f"read {8 * _size} bits")(_bus_read(_size, f"Read{_width}"))
    command(f"sysbus Write{_width}", "<address:int> <value:int>",
            f"write {8 * _size} bits")(_bus_write(_size, f"Write{_width}"))


# ============================================================================ cpu
def _register_value(reg: str):
    """`cpu PC` / `cpu SP`: the register's value (usable as `cpu PC` in a substitution), or set it."""
    def handler(mon, value):
        dbg = Debugger.of(mon.machine)
        if value is None:
            return f"0x{dbg.read_register(reg) & (~1 if reg == 'pc' else ~0):X}"
        dbg.write_register(reg, value)
    return handler


command("cpu PC", "[<value:int>]", "read or set the program counter")(_register_value("pc"))
command("cpu SP", "[<value:int>]", "read or set the stack pointer")(_register_value("sp"))


@command("cpu Step", "[<count:int>]", "execute instructions (interrupts held back unless "
         "`stepirq on`); stops early at a breakpoint or when the core sleeps")
def cpu_step(mon, count):
    count = 1 if count is None else count
    if count <= 0:
        raise MonitorError(f"cpu Step: expected a positive count, got {count}")
    mon.check_ready()
    dbg = Debugger.of(mon.machine)
    for _ in range(count):
        stop = dbg.step()
        if stop.kind != "step":
            break
    note = {"asleep": " (the core sleeps and nothing wakes it)",
            "fault": " (stopped by a firmware fault)",
            "breakpoint": " (breakpoint)", "watchpoint": " (watchpoint)"}.get(stop.kind, "")
    if stop.kind == "fault":
        raise stop.fault
    return f"0x{dbg.pc:X}{note}"


def _register(dbg, name: str) -> str:
    try:
        dbg.read_register(name)
    except MetersimError as exc:
        raise MonitorError(str(exc)) from None
    return name


def _register_name(tok) -> str:
    if tok.kind == "number" and isinstance(tok.value, int):
        if not 0 <= tok.value <= 15:
            raise MonitorError(f"register number {tok.value}: expected 0..15")
        return f"r{tok.value}"
    return str(tok.value)


@command("cpu GetRegister", "<register:token>", "read a register (R0..R15, SP, LR, PC, XPSR, "
         "MSP, PSP, CONTROL, PRIMASK, BASEPRI, FAULTMASK)")
def cpu_get_register(mon, register):
    dbg = Debugger.of(mon.machine)
    return f"0x{dbg.read_register(_register(dbg, _register_name(register))):X}"


@command("cpu SetRegister", "<register:token> <value:int>", "write a register")
def cpu_set_register(mon, register, value):
    dbg = Debugger.of(mon.machine)
    dbg.write_register(_register(dbg, _register_name(register)), value)


@command("cpu VectorTableOffset", "[<address:int>]", "the boot vector table's address")
def cpu_vtor(mon, address):
    m = mon.machine
    if address is None:
        return f"0x{(m.boot_address or 0):X}"
    m.boot_address = address
    mon.reset_if_bootable(m)


@command("cpu IsHalted", "", "true while the core sleeps or is stopped by a fault")
def cpu_is_halted(mon):
    dbg = Debugger.of(mon.machine)
    return str(dbg.asleep or dbg.fault is not None).lower()


@command("cpu Reset", "", "reset the core only (peripherals keep their state)")
def cpu_reset(mon):
    mon.machine.reset_cpu_only()


@command("cpu PerformanceInMips", "[<mips:token>]", "(ignored: the core runs at its RCC clock)")
def cpu_mips(mon, mips):
    m = mon.machine
    return (f"note: metersim runs {m.name}'s core at the clock its RCC sets, one cycle per "
            f"instruction (now {m.cpu.freq_hz / 1e6:g} MHz): PerformanceInMips ignored")


@command("stepirq", "[<mode:on|off>]", "whether stepping (GDB stepi, cpu Step) lets pending "
         "interrupts be taken")
def stepirq(mon, mode):
    dbg = Debugger.of(mon.machine)
    if mode is not None:
        dbg.step_irqs = mode == "on"
    return f"stepping {'takes' if dbg.step_irqs else 'holds back'} pending interrupts"


@command("time", "", "virtual time, and the current machine's cycles and instructions")
def time_info(mon):
    now = mon.emulation.now_ps
    text = f"virtual time {format_time(now)} ({now} ps)"
    if mon.current_machine_name is None or mon.slot().machine is None:
        return text
    c = Debugger.of(mon.machine).counters()
    return (f"{text}; {mon.machine.name}: core {c['freq_hz'] / 1e6:g} MHz, {c['cycles']} cycles, "
            f"{c['instructions']} instructions, {c['idle_cycles']} idle cycles")


# ============================================================================ emulation
@command("emulation RunFor", "<duration:duration>", "run for a virtual duration")
def run_for(mon, duration):
    mon.run_for(duration)


@command("emulation SetSeed", "<seed:int>", "seed of machines built afterwards")
def set_seed(mon, seed):
    mon.emulation.seed = seed
    built = [s.name for s in mon.slots.values() if s.machine is not None]
    return (f"note: the seed applies to machines built after this command "
            f"({', '.join(built)} keep their seed)") if built else ""


@command("emulation SetGlobalQuantum", "<quantum:duration>", "the synchronisation quantum")
def set_quantum(mon, quantum):
    if quantum <= 0:
        raise MonitorError("SetGlobalQuantum: the quantum must be positive")
    mon.emulation.quantum_ps = quantum


@command("emulation GetTimeSourceInfo", "", "virtual and host time, load, state, quantum")
def time_source_info(mon):
    emu = mon.emulation
    virt = emu.now_ps
    host_s = emu.wall_s
    load = host_s / (virt / PS_PER_S) if virt else 0.0
    return "\n".join([
        f"Elapsed Virtual Time: {format_hms(virt)}",
        f"Elapsed Host Time: {format_hms(round(host_s * PS_PER_S))}",
        f"Cumulative load: {load:.3f}",
        f"State: {'Started' if mon.started else 'Paused'}",
        f"Advance immediately: {mon.advance_immediately}",
        f"Quantum: {format_hms(emu.sync_quantum_ps())}"
        + ("" if emu.quantum_ps else " (the links' lookahead)"),
        f"Seed: {emu.seed}",
    ])


@command("emulation CreateUARTHub", "<name:text> [<loopback:token>]", "a hub joining UARTs")
def create_hub(mon, name, loopback):
    if name in mon.hubs or name in mon.terminals:
        raise MonitorError(f"a UART hub or terminal named {name!r} exists already")
    mon.hubs[name] = UartHub(name)


@command("emulation SetGlobalAdvanceImmediately", "<on:bool>",
         "run free (true) or paced to the host clock (false, the default)")
def advance_immediately(mon, on):
    mon.advance_immediately = bool(on)


@command("emulation SetGlobalSerialExecution", "[<on:token>]", "(always serial in metersim)")
def serial_execution(mon, on):
    return "note: metersim always runs the machines one after the other within a quantum"


# ============================================================================ UARTs
@command("connector Connect", "<uart:text> <hub:text>", "join a UART to a hub or a terminal")
def connect(mon, uart, hub):
    h = mon.terminals.get(hub) or mon.hub(hub, "Connect")
    m, name, model = mon.peripheral(uart)
    h.attach(f"{m.name}:{name}", model)
    mon.slots[m.name].attached = True


@command("connector Disconnect", "<uart:text> <hub:text>", "take a UART off a hub or terminal")
def disconnect(mon, uart, hub):
    h = mon.terminals.get(hub) or mon.hub(hub, "Disconnect")
    m, name, model = mon.peripheral(uart)
    if not h.detach(model):
        raise MonitorError(f"connector Disconnect: {m.name}:{name} is not connected to {hub!r}")


@command("showAnalyzer", "<uart:text> [<extra:token>...]",
         "print the UART's lines as [machine:uart] line")
def show_analyzer(mon, uart, extra):
    from metersim._orchestration.testers import capture_uart

    m, name, model = mon.peripheral(uart)
    unmodelled = mon.unmodelled_note(m, name, model, "no analyzer shown")
    if unmodelled:
        return unmodelled
    if not hasattr(model, "on_byte"):
        raise MonitorError(f"showAnalyzer: {name} ({type(model).__name__}) is not a UART")
    key = (m.name, name)
    if key in mon.analyzers:
        return ""
    label = f"[{m.name}:{name}]"
    mon.analyzers[key] = capture_uart(m, name, echo=lambda _mn, line: mon.out(f"{label} {line}"))
    mon.slots[m.name].attached = True


# ============================================================================ running
@command("start", "", "run the emulation (headless: for the duration given to `metersim run`)",
         aliases=("s",))
def start(mon):
    mon.check_ready()
    mon.started = True
    for fn in list(mon.on_start):
        fn()
    return "Starting emulation..."


@command("pause", "", "stop the emulation", aliases=("p",))
def pause(mon):
    mon.started = False
    mon.emulation.request_stop()
    for fn in list(mon.on_pause):
        fn()
    return f"Pausing emulation... (virtual time {format_hms(mon.emulation.now_ps)})"


@command("sleep", "<seconds:token>", "wait in host time")
def sleep(mon, seconds):
    if seconds.kind != "number":
        raise MonitorError(f"sleep: expected a number of seconds, got {seconds.text!r}")
    mon.lock.release()
    try:
        time.sleep(float(seconds.value))
    finally:
        mon.lock.acquire()


@command("quit", "", "leave the console / stop the script", aliases=("q", "exit"))
def quit_(mon):
    mon.quit_requested = True
    mon.started = False


# ============================================================================ scripts
@command("macro", '<name:name> <body:token>', 'define a macro: macro <name> """ commands """ '
         "(`reset` also runs after machine Reset)", raw=True)
def macro(mon, name, body):
    if body.kind != "string":
        raise MonitorError('usage: macro <name> """ commands """ (a name, then a string)')
    mon.macros[name] = str(body.value)


@command("runMacro", "<name:token>", "run a macro: runMacro $name", raw=True)
def run_macro(mon, name):
    if name.kind not in ("var", "name"):
        raise MonitorError(f"runMacro: expected $name, got {name.text!r}")
    return mon.run_macro(str(name.value))


@command("using", "<namespace:sysbus>", "name peripherals without the sysbus. prefix")
def using(mon, namespace):
    mon.using_sysbus = True


# ============================================================================ inspection
@command("logLevel", "[<level:int>] [<peripheral:text>]",
         "-1 noisy, 0 debug, 1 info, 2 warning, 3 error; per peripheral with sysbus.<name>")
def log_level(mon, level, peripheral):
    return mon.set_log_level(level, peripheral)


@command("peripherals", "[<action:export>] [<file:token>]",
         "the current machine's devices with their addresses; `peripherals export @file` "
         "writes them with their Renode types to a file")
def peripherals(mon, action, file):
    from metersim._frontends.monitor import peripherals_export, peripherals_tree
    if action is None:
        return peripherals_tree(mon.machine)
    if file is None or file.kind not in ("path", "string"):
        raise MonitorError("peripherals export: expected a file to write, as @path")
    target = Path(str(file.value)).expanduser()
    try:
        target.write_text(peripherals_export(mon.machine))
    except OSError as exc:
        raise MonitorError(f"peripherals export: cannot write {target}: {exc.strerror}") from None
    return None


@command("help", "[<command:text>]", "the commands, or one command's usage",
         aliases=("h", "?"))
def help_(mon, command):
    reg = mon.registry
    if command is not None:
        cmds = [c for n, c in reg.commands.items()
                if n == command or n.split(" ")[0] == reg.aliases().get(command, command)]
        if not cmds:
            raise MonitorError(f"help: no command {command!r}; `help` lists them")
        return "\n".join(f"{c.usage}\n    {c.help}" for c in cmds)
    lines = []
    for word in reg.top_words():
        if reg.is_group(word):
            lines.append(f"  {word} <{'|'.join(reg.methods(word))}>")
        else:
            c = reg.commands[word]
            alias = f" ({', '.join(c.aliases)})" if c.aliases else ""
            lines.append(f"  {c.usage}{alias}: {c.help}")
    lines += ['  $name = "value" | $name ?= "default" | $name = @path: variables',
              "  sysbus.<peripheral> Method args: call a model method (snake_case of Method) or "
              "read/set a property",
              "`help <command>` shows one command's usage"]
    return "\n".join(lines)
