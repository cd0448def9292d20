"""Monitor commands that Renode's own scripts use beyond metersim's core set (Renode's names and
semantics, from renode-infrastructure `Extensions/UserInterface` and renode `scripts/monitor.py`):

    include @x.repl | @x.py | @x.resc     (alias i) a platform, Python code, or a script
    set name "value" | set name + \"\"\" block \"\"\" | set global.name ...    a variable
    if <condition> \"\"\" commands \"\"\"      run the block when the condition is true
    str_contains <needle> <haystack>     True/False (Renode's mc_str_contains), for `if`
    echo [text]                          print
    python "code" | python \"\"\" block \"\"\"   run CPython (metersim._frontends.monitor_python)
    emulation CreateUARTHub "name"       (also CreateUartHub, metersim's older spelling)
    emulation CreateServerSocketTerminal <port> "name" [emitConfig]
    emulation CreateLEDTester "name" sysbus.port.led [defaultTimeout]; name AssertState ...
    sysbus LoadSymbolsFrom @f.elf | LoadHEX @f.hex | LogAllPeripheralsAccess [true|false]
    sysbus LogPeripheralAccess sysbus.x [true|false]
    cpu AddHook <address> "code" | $var  /  cpu RemoveHooksAt <address> / cpu RemoveAllHooks
    machine PyDevFromFile @f.py <address> <size> [initable] ["name"]
    machine PyDevFromString "code" <address> <size> [initable] ["name"]
    machine SdCardFromFile @img.bin <controller> [<port>] <size> [persistent] ["name"]
    emulation CreateEmulatedNetworkService "name" "<type>" "<address>" <port> ["args"]
                                         a service (EchoService) on the emulated network
"""

from __future__ import annotations

from pathlib import Path

from metersim._errors import MetersimError
from metersim._frontends.monitor_commands import create_hub
from metersim._frontends.monitor_registry import COMMANDS, Command, command, free_name
from metersim._frontends.monitor_syntax import MonitorError, Token


# ============================================================================ scripts
@command("include", "<file:path>", "run a .resc script, load a .repl platform into the current "
         "machine, or run a .py file in the monitor's Python", aliases=("i",))
def include(mon, file: Path):
    suffix = file.suffix.lower()
    if suffix == ".repl":
        return mon.load_platform(mon.slot(), ("file", str(file)))
    if suffix == ".py":
        return mon.python.run_file(file)
    if suffix == ".cs":
        raise MonitorError(f"include {file.name}: C# peripherals cannot run in metersim; write the "
                           "model in Python (a metersim.peripherals model, or a "
                           "Python.PythonPeripheral)")
    return mon.execute_script(file, echo=False)


def _block_or_value(tok: Token, what: str) -> Token:
    if tok.kind in ("string", "number", "bool", "path", "name"):
        return tok
    raise MonitorError(f"{what}: expected a value or a \"\"\" block, got {tok.text!r}")


@command("set", "<name:token> <value:token>", 'set a variable: set name "value", or set name '
         'followed by a """ block; `set global.name` is the same variable as $name')
def set_(mon, name: Token, value: Token):
    if name.kind not in ("name", "var"):
        raise MonitorError(f"set: expected a variable name, got {name.text!r}")
    mon.set_variable(str(name.value), _block_or_value(value, "set"))


def _truth(tok: Token) -> bool:
    v = tok.value
    if tok.kind == "bool":
        return bool(v)
    if tok.kind == "number":
        return v != 0
    text = str(v).strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0", "", "none"):
        return False
    raise MonitorError(f"if: cannot read {tok.text!r} as true or false")


@command("if", "<condition:token> <commands:token>", 'run a """ block of commands when the '
         "condition (true/false, a number, or a `command` result) is true")
def if_(mon, condition: Token, commands: Token):
    if commands.kind != "string":
        raise MonitorError('if: expected the commands as a """ block after the condition')
    if _truth(condition):
        return mon.execute_text(str(commands.value), source="if block", echo=False)


@command("str_contains", "<needle:text> <haystack:text>",
         "True when the first text is found in the second (ignoring case)")
def str_contains(mon, needle, haystack):
    return str(needle.lower() in haystack.lower())


@command("echo", "[<words:token>...]", "print the words")
def echo(mon, words):
    return " ".join(str(w.value) for w in words)


@command("python", "<code:token>", 'run Python: python "one line" or a """ block', aliases=("py",))
def python(mon, code: Token):
    if code.kind != "string":
        raise MonitorError(f'python: expected "code" or a """ block, got {code.text!r}')
    return mon.python.run(str(code.value))


# ============================================================================ hubs, terminals
@command("emulation CreateLEDTester", "<name:text> <led:token> [<defaultTimeout:token>]",
         "an LED tester named <name>: `<name> AssertState true 1`, `<name> AssertAndHoldState "
         "false 1 1`, `<name> AssertDutyCycle 2 0.5` (virtual seconds)")
def create_led_tester(mon, name, led, defaultTimeout):
    from metersim._frontends.renode_testers import LedTester

    if name in mon.testers or name in mon.terminals or name in mon.hubs:
        raise MonitorError(f"an object named {name!r} exists already")
    model = mon.peripheral(str(led.value))[2] if led.kind == "name" else None
    if model is None or not hasattr(model, "on_state_change"):
        raise MonitorError(f"emulation CreateLEDTester: {led.text!r} is not an LED of the "
                           "current machine (expected sysbus.<port>.<led>, e.g. "
                           "sysbus.gpioPortC.led)")
    timeout = 0 if defaultTimeout is None else defaultTimeout.value
    mon.testers[name] = LedTester(mon.emulation, model, f"{mon.machine.name}:{name}", timeout)
    return None


@command("emulation CreateServerSocketTerminal", "<port:int> <name:text> [<emitConfig:bool>]",
         "a TCP server on 127.0.0.1:<port> bridged to a UART by `connector Connect`")
def create_socket_terminal(mon, port, name, emitConfig):
    from metersim._frontends.socket_terminal import ServerSocketTerminal

    if name in mon.terminals or name in mon.hubs:
        raise MonitorError(f"a hub or terminal named {name!r} exists already")
    emit = True if emitConfig is None else bool(emitConfig)     # Renode's default: true
    term = ServerSocketTerminal(name, port, mon.lock, emit)
    mon.terminals[name] = term
    return f"terminal {name!r} listening on 127.0.0.1:{term.port}"


# ============================================================================ sysbus
@command("sysbus LoadSymbolsFrom", "<file:path> [<extra:token>...]",
         "read an ELF's symbols (for GetSymbolAddress, hooks) without loading it")
def load_symbols(mon, file, extra):
    from metersim._engine.loader import load_elf

    m = mon.machine
    fw = load_elf(file)
    mon.extra_symbols.setdefault(m.name, []).append(fw.symbols)
    return f"{m.name}: symbols of {file.name} loaded"


def parse_intel_hex(text: str, source: str) -> list[tuple[int, bytes]]:
    """Intel HEX records 00 (data), 01 (end), 02 (segment), 04 (linear address); 03/05 (start
    address) are read and ignored. Returns (address, bytes) chunks."""
    chunks: list[tuple[int, bytes]] = []
    upper = 0
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        if not line.startswith(":"):
            raise MonitorError(f"{source}:{n}: not an Intel HEX record (no ':')")
        try:
            rec = bytes.fromhex(line[1:])
        except ValueError:
            raise MonitorError(f"{source}:{n}: malformed hexadecimal in the record") from None
        if len(rec) < 5 or len(rec) != rec[0] + 5:
            raise MonitorError(f"{source}:{n}: record length does not match its byte count")
        if sum(rec) & 0xFF:
            raise MonitorError(f"{source}:{n}: checksum mismatch")
        count, addr, kind, data = rec[0], (rec[1] << 8) | rec[2], rec[3], rec[4:4 + rec[0]]
        if kind == 0:
            chunks.append((upper + addr, bytes(data)))
        elif kind == 1:
            break
        elif kind == 2:
            upper = int.from_bytes(data, "big") << 4
        elif kind == 4:
            upper = int.from_bytes(data, "big") << 16
        elif kind not in (3, 5):
            raise MonitorError(f"{source}:{n}: unknown record type {kind:02X}")
        del count
    return chunks


@command("sysbus LoadHEX", "<file:path> [<extra:token>...]", "load an Intel HEX file")
def load_hex(mon, file, extra):
    m = mon.machine
    chunks = parse_intel_hex(file.read_text(encoding="ascii", errors="replace"), str(file))
    for addr, data in chunks:
        try:
            m.sysbus.write_memory(addr, data)
        except MetersimError as exc:
            raise MonitorError(f"sysbus LoadHEX {file.name}: 0x{addr:08X}: {exc}") from None
    mon.reset_if_bootable(m)
    return f"{m.name}: {sum(len(d) for _, d in chunks)} bytes from {file.name}"


def _on_off(tok: Token | None) -> bool:
    if tok is None:
        return True
    if tok.kind != "bool":
        raise MonitorError(f"expected true or false, got {tok.text!r}")
    return bool(tok.value)


@command("sysbus LogAllPeripheralsAccess", "[<on:token>]",
         "log every access to every peripheral (metersim.access logger, INFO)")
def log_all_access(mon, on):
    from metersim._engine.runtime_hooks import log_peripheral_access

    names = log_peripheral_access(mon.machine, None, _on_off(on))
    return f"access logging {'on' if _on_off(on) else 'off'} for {len(names)} peripherals"


@command("sysbus LogPeripheralAccess", "<peripheral:text> [<on:token>]",
         "log every access to one peripheral (metersim.access logger, INFO)")
def log_peripheral_access_cmd(mon, peripheral, on):
    from metersim._engine.runtime_hooks import log_peripheral_access

    m, name, _model = mon.peripheral(peripheral)
    if not log_peripheral_access(m, name, _on_off(on)):
        raise MonitorError(f"sysbus LogPeripheralAccess: {name} is not on the system bus")


@command("sysbus GetSymbolAddress", "<symbol:text>", "address of a firmware symbol")
def symbol_address(mon, symbol):
    return f"0x{mon.symbol(mon.machine, symbol):X}"


# ============================================================================ cpu
@command("cpu AddHook", "<address:int> <code:token>", 'run Python each time the core reaches '
         'an address: cpu AddHook 0x08000100 "print(hex(pc))" (self/cpu, machine, pc)')
def cpu_add_hook(mon, address, code):
    from metersim._engine.runtime_hooks import AddressHooks

    if code.kind != "string":
        raise MonitorError(f'cpu AddHook: expected the Python code as "text" or a """ block, '
                           f"got {code.text!r}")
    m = mon.machine
    try:
        hook = mon.python.cpu_hook(m, str(code.value), f"hook at 0x{address:X}")
    except SyntaxError as exc:
        raise MonitorError(f"cpu AddHook: line {exc.lineno}: {exc.msg}") from None
    AddressHooks.of(m).add(address, hook)


@command("cpu RemoveHooksAt", "<address:int>", "remove the hooks at an address")
def cpu_remove_hooks(mon, address):
    from metersim._engine.runtime_hooks import AddressHooks

    if not AddressHooks.of(mon.machine).remove_at(address):
        raise MonitorError(f"cpu RemoveHooksAt: no hook at 0x{address:X}")


@command("cpu RemoveAllHooks", "", "remove every hook of the core")
def cpu_remove_all_hooks(mon):
    from metersim._engine.runtime_hooks import AddressHooks

    AddressHooks.of(mon.machine).clear()


# ============================================================================ Python peripherals
def _add_pydev(mon, address, size, initable, name, script=None, filename=None):
    from metersim.peripherals.python_peripheral import PythonPeripheral

    m = mon.machine
    name = name if name is not None else free_name("pydev", m.peripherals)
    if name in m.peripherals:
        raise MonitorError(f"{m.name} has a peripheral named {name!r} already")
    initable = _on_off(initable) if initable is not None else False
    dev = PythonPeripheral(m.context(name, address), size, initable, script=script,
                           filename=filename)
    m.add(name, dev, address, size)
    return f"{m.name}: {name} (Python.PythonPeripheral) at <0x{address:08X}, +0x{size:X}>"


@command("machine PyDevFromFile", "<file:path> <address:int> <size:int> [<initable:token>] "
         "[<name:text>]", "a Python peripheral whose script is a file")
def pydev_from_file(mon, file, address, size, initable, name):
    return _add_pydev(mon, address, size, initable, name, filename=str(file))


@command("machine PyDevFromString", "<script:text> <address:int> <size:int> [<initable:token>] "
         "[<name:text>]", "a Python peripheral whose script is given")
def pydev_from_string(mon, script, address, size, initable, name):
    return _add_pydev(mon, address, size, initable, name, script=script)


# ============================================================================ SD cards, network
@command("machine SdCardFromFile", "<file:path> <attachTo:text> [<rest:token>...]",
         "an SD card image on a card controller (Renode's SDCard): checked and recorded; "
         "metersim models no SD card controller, so the firmware sees no card")
def sd_card_from_file(mon, file, attachTo, rest):
    m = mon.machine
    _, controller, _model = mon.peripheral(attachTo)
    positional, named = [], {}
    i = 0
    while i < len(rest):                       # positional values, then name=value ones
        tok = rest[i]
        if tok.kind == "name" and i + 1 < len(rest) and rest[i + 1].kind == "assign":
            if i + 2 >= len(rest):
                raise MonitorError(f"machine SdCardFromFile: {tok.text}= has no value")
            named[tok.text.lower()] = rest[i + 2]
            i += 3
            continue
        positional.append(tok)
        i += 1
    # Renode's overloads: (file, controller, size, persistent, name) and, on an SPI bus,
    # (file, controller, port, size, persistent, name).
    if len(positional) >= 2 and all(t.kind == "number" for t in positional[:2]):
        positional = positional[1:]
    values = {"size": None, "persistent": None, "name": None}
    for key, tok in zip(values, positional):
        values[key] = tok.value if key != "name" else str(tok.value)
    for key, tok in named.items():
        if key not in values:
            raise MonitorError(f"machine SdCardFromFile: no parameter {key!r} (it takes size, "
                               "persistent, name)")
        values[key] = tok.value if key != "name" else str(tok.value)
    if values["persistent"] is not None and not isinstance(values["persistent"], bool):
        raise MonitorError("machine SdCardFromFile: persistent is true or false, got "
                           f"{values['persistent']!r}")
    image = file.stat().st_size
    size = values["size"] if values["size"] is not None else image
    if not isinstance(size, int) or size < 0:
        raise MonitorError(f"machine SdCardFromFile: size must be a number of bytes, got {size!r}")
    persistent = True if values["persistent"] is None else bool(values["persistent"])
    name = values["name"] or "sdCard"
    mon.sd_cards[(m.name, name)] = (file, controller, size or image, persistent)
    platform = getattr(m, "platform", None)
    entry = platform.entries.get(controller) if platform is not None else None
    kind = f" ({entry.type_name})" if entry is not None and entry.type_name else ""
    return (f"note: {m.name}: SD card {name!r} ({file.name}, {size or image} bytes, "
            f"{'persistent' if persistent else 'not persistent'}) recorded on {controller}{kind}; "
            "metersim does not model SD cards or their controllers, so the firmware sees no "
            "card and the image is never read or written")


@command("emulation CreateEmulatedNetworkService", "[<args:token>...]",
         'a host-side service on the emulated network: "name" "<type>" "<address>" <port> '
         '["args"] (Renode\'s order; type Antmicro.Renode.Peripherals.Network.EchoService)')
def create_network_service(mon, args):
    from metersim._engine.network import NetworkError, network_of

    usage = ('emulation CreateEmulatedNetworkService "name" "<type>" "<address>" <port> ["args"]')
    if not 4 <= len(args) <= 5:
        raise MonitorError(f"{usage}: expected 4 or 5 arguments, got {len(args)}")
    name, type_name, address, port = (args[0].value, args[1].value, args[2].value, args[3].value)
    extra = args[4].value if len(args) == 5 else ""
    if not isinstance(port, int) or isinstance(port, bool):
        raise MonitorError(f"{usage}: the port is a number, got {args[3].text!r}")
    try:
        network_of(mon.emulation).create_service(str(name), str(type_name), str(address), port,
                                                  str(extra))
    except NetworkError as exc:
        raise MonitorError(f"emulation CreateEmulatedNetworkService {name!r}: {exc}") from None


# metersim's spelling before Renode's was adopted, kept for existing scenes
COMMANDS.add(Command("emulation CreateUartHub", "<name:text> [<loopback:token>]",
                     "a hub joining UARTs (Renode spells it CreateUARTHub)", create_hub))
