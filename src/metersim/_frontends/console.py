"""`metersim console [SCENE.resc]`: the interactive monitor (Renode's Monitor window, in a
terminal).

- Prompt `(machine-name) `, commands as in `.resc` scenes (metersim._frontends.monitor).
- History in ~/.metersim_history (or $METERSIM_HISTORY), tab completion of commands, of the
  methods of `machine`/`sysbus`/`cpu`/`emulation`, and of peripheral names (`sysbus.us<TAB>`).
- While the emulation is started, a background thread advances virtual time in short chunks,
  holding the monitor's lock, so commands typed meanwhile run between chunks. By default
  virtual time is paced to the host clock (Renode's default, `AdvanceImmediately false`), so
  a 1 s firmware timer takes 1 s; `emulation SetGlobalAdvanceImmediately true` runs free.
- UART lines of analyzed UARTs (`showAnalyzer`) and log records print above the prompt as
  `[machine:uart] line`; the line being typed is redrawn under them.
- `uart attach sysbus.usart1` joins the terminal to a UART, as Renode's analyzer window
  does: keystrokes go to the firmware as typed, and what it sends shows at once, partial lines
  (a `msh> ` prompt) included; Ctrl-] returns to the monitor. A paused emulation is started.
- While a GDB client holds the target (`machine StartGdbServer`), time waits for GDB; a
  detach leaves the emulation started or paused, as the console had it.
- `clear` asks before removing machines. Ctrl-C pauses a running emulation, Ctrl-D or
  `quit` leaves. Errors print and the console goes on.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
import time
from pathlib import Path

from metersim._errors import MetersimError
from metersim._frontends.monitor import Monitor
from metersim._frontends.monitor_registry import Command
from metersim._frontends.monitor_syntax import MonitorError, statements
from metersim._units import PS_PER_MS, PS_PER_S

HISTORY_DEFAULT = Path.home() / ".metersim_history"
FREE_CHUNK_PS = 50 * PS_PER_MS      # virtual time per chunk when running free
PACED_MAX_CHUNK_PS = 100 * PS_PER_MS
DETACH_KEY = 0x1D                   # Ctrl-]


class _ConsoleLogHandler(logging.Handler):
    def __init__(self, console: "Console"):
        super().__init__()
        self.console = console
        self.setFormatter(logging.Formatter("%(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.console.print_above(self.format(record))
        except Exception:  # noqa: BLE001 - logging must never break the console
            self.handleError(record)


class Console:
    def __init__(self, monitor: Monitor | None = None, stdin=None, stdout=None,
                 history_path: str | os.PathLike | None = None):
        self.monitor = monitor if monitor is not None else Monitor()
        self.stdin = stdin or sys.stdin
        self.stdout = stdout or sys.stdout
        self.tty = self.stdin.isatty() and self.stdout.isatty()
        self.history_path = Path(history_path or os.environ.get("METERSIM_HISTORY")
                                 or HISTORY_DEFAULT)
        self._out_lock = threading.Lock()
        self._reading = False
        self._prompt = ""
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._anchor: tuple[float, int] | None = None   # (wall s, virtual ps) when started
        self._readline = None
        self.monitor.out = self.print_above
        self.monitor.on_start.append(self._started)
        self.monitor.on_pause.append(self._paused)
        self.monitor.confirm = self._confirm
        self.monitor.register(Command("uart attach", "<uart:text>",
                                      "type into a UART and see what it sends at once "
                                      "(Ctrl-] returns to the monitor)", self._cmd_uart_attach))
        self._attached_label: str | None = None
        self._input_thread = threading.current_thread()
        self._runner = threading.Thread(target=self._run_loop, name="metersim-runner", daemon=True)

    # -- output ---------------------------------------------------------------------------
    def print_above(self, text: str) -> None:
        """Print `text` above the prompt, redrawing what the user is typing."""
        if self._attached_label is not None and text.startswith(self._attached_label):
            return   # the attached UART shows byte by byte already
        with self._out_lock:
            if self._reading and self.tty:
                buf = self._readline.get_line_buffer() if self._readline else ""
                self.stdout.write("\r\x1b[K" + text.replace("\n", "\r\n\x1b[K") + "\r\n"
                                  + self._prompt + buf)
            else:
                self.stdout.write(text + "\n")
            self.stdout.flush()

    # -- the runner -----------------------------------------------------------------------
    def _started(self) -> None:
        self._anchor = (time.perf_counter(), self.monitor.emulation.now_ps)
        self._wake.set()

    def _paused(self) -> None:
        self._anchor = None

    def start_runner(self) -> None:
        """Advance virtual time in the background while the emulation is started."""
        self._runner.start()

    def stop_runner(self) -> None:
        self._stop.set()
        self.monitor.started = False
        self._runner.join(timeout=5)

    def _run_loop(self) -> None:
        mon = self.monitor
        while not self._stop.is_set():
            if not mon.running:
                self._anchor = None
                self._wake.wait(0.1)
                self._wake.clear()
                continue
            with mon.lock:
                if not mon.running:
                    continue
                emu = mon.emulation
                now = emu.now_ps
                if mon.advance_immediately:
                    target = now + FREE_CHUNK_PS
                else:
                    if self._anchor is None:
                        self._anchor = (time.perf_counter(), now)
                    wall0, virt0 = self._anchor
                    target = min(virt0 + int((time.perf_counter() - wall0) * PS_PER_S),
                                 now + PACED_MAX_CHUNK_PS)
                if target > now:
                    try:
                        emu.run_until_time(target)
                    except MetersimError as exc:
                        mon.started = False
                        self._anchor = None
                        self.print_above(f"error: {exc}\nemulation paused")
            time.sleep(0.002 if mon.advance_immediately else 0.02)

    # -- questions and UART sessions ---------------------------------------------------------
    def _confirm(self, question: str) -> bool:
        """Ask the user; only "y" or "yes" agrees."""
        try:
            answer = self._read(f"{question} [y/N] ")
        except EOFError:
            return False
        return answer.strip().lower() in ("y", "yes")

    def _cmd_uart_attach(self, mon: Monitor, uart: str) -> str:
        if threading.current_thread() is not self._input_thread:
            raise MonitorError("uart attach: only at the console's own prompt (it takes over "
                               "the terminal)")
        m, name, model = mon.peripheral(uart)
        if not hasattr(model, "on_byte") or not hasattr(model, "write_bytes"):
            raise MonitorError(f"uart attach: {name} ({type(model).__name__}) is not a UART")
        note = ""
        if not mon.started:
            note = mon.execute("start") + "\n"
        self.print_above(f"{note}attached to {m.name}:{name}; Ctrl-] returns to the monitor")
        self._attached_label = f"[{m.name}:{name}]"
        model.on_byte.append(self._show_byte)
        mon.lock.release()       # the runner advances time while the user types
        try:
            self._uart_session(mon, model)
        finally:
            mon.lock.acquire()
            model.on_byte.remove(self._show_byte)
            self._attached_label = None
        return f"detached from {m.name}:{name}"

    def _show_byte(self, byte: int) -> None:
        with self._out_lock:
            self.stdout.write("\r\n" if byte == 0x0A else
                              "" if byte == 0x0D else bytes([byte]).decode("latin-1"))
            self.stdout.flush()

    def _uart_session(self, mon: Monitor, model) -> None:
        """Keystrokes to the UART until Ctrl-] (or the end of the input)."""
        saved = None
        if self.tty:
            import termios
            import tty
            fd = self.stdin.fileno()
            saved = termios.tcgetattr(fd)
            tty.setraw(fd)
        try:
            while True:
                data = self._read_input(1024)
                if not data:
                    return
                cut = data.find(bytes([DETACH_KEY]))
                send = data if cut < 0 else data[:cut]
                if not self.tty:
                    send = send.replace(b"\n", b"\r")    # a pipe's lines end as Enter does
                if send:
                    with mon.lock:
                        model.write_bytes(send)
                if cut >= 0:
                    return
        finally:
            if saved is not None:
                termios.tcsetattr(fd, termios.TCSADRAIN, saved)
            with self._out_lock:
                self.stdout.write("\r\n")
                self.stdout.flush()

    # -- input ----------------------------------------------------------------------------
    def _setup_readline(self) -> None:
        if not self.tty:
            return
        try:
            import readline
        except ImportError:
            return
        self._readline = readline
        try:
            readline.read_history_file(self.history_path)
        except (FileNotFoundError, OSError):
            pass
        readline.set_history_length(2000)
        readline.set_completer_delims(" \t")
        readline.set_completer(self._complete)
        if "libedit" in (readline.__doc__ or ""):
            readline.parse_and_bind("bind ^I rl_complete")
        else:
            readline.parse_and_bind("tab: complete")

    def _complete(self, text: str, state: int):
        rl = self._readline
        line = rl.get_line_buffer()[:rl.get_endidx()] if rl else text
        with self.monitor.lock:
            options = self.monitor.completions(line)
        return options[state] if state < len(options) else None

    def _read(self, prompt: str) -> str:
        self._prompt = prompt
        if self.tty:
            self._reading = True
            try:
                return input(prompt)
            finally:
                self._reading = False
        with self._out_lock:
            self.stdout.write(prompt)
            self.stdout.flush()
        # Unbuffered, so a `uart attach` after this line gets every byte that follows it.
        line = bytearray()
        while not line.endswith(b"\n"):
            c = self._read_input(1)
            if not c:
                if not line:
                    raise EOFError
                break
            line += c
        return line.decode("utf-8", "replace").rstrip("\n")

    def _read_input(self, n: int) -> bytes:
        """Up to `n` bytes of input as they come (b"" at its end)."""
        try:
            fd = self.stdin.fileno()
        except (AttributeError, OSError, ValueError):
            return self.stdin.read(n).encode("utf-8")   # a StringIO in tests
        return os.read(fd, n)

    def _read_statement(self) -> str:
        name = self.monitor.current_machine_name or "monitor"
        text = self._read(f"({name}) ")
        # Continue a """ string (a macro body) over several lines.
        while True:
            try:
                statements(text)
                lines = text.splitlines() or [""]
                if lines[-1].strip().startswith("macro ") and '"""' not in text:
                    text += "\n" + self._read("... ")
                    continue
                return text
            except MetersimError:
                text += "\n" + self._read("... ")

    def run(self) -> int:
        self._setup_readline()
        self._input_thread = threading.current_thread()
        self.start_runner()
        mon = self.monitor
        try:
            while not mon.quit_requested:
                try:
                    line = self._read_statement()
                except EOFError:
                    self.print_above("")
                    break
                except KeyboardInterrupt:
                    if mon.started:
                        with mon.lock:
                            self.print_above("\n" + mon.execute("pause"))
                    else:
                        self.print_above("^C (quit or Ctrl-D leaves)")
                    continue
                for _, stmt in statements(line):
                    try:
                        result = mon.execute(stmt)
                    except MetersimError as exc:
                        result = f"error: {exc}"
                    except KeyboardInterrupt:
                        result = "interrupted"
                    if result:
                        self.print_above(result)
        finally:
            self.stop_runner()
            if self._readline is not None:
                try:
                    self._readline.write_history_file(self.history_path)
                except OSError:
                    pass
            mon.close()
        return 0


def main_console(args) -> int:
    """`metersim console [SCENE.resc]`: args.scene (optional), args.seed, args.execute
    (commands run before the scene, e.g. `$bin=@build/fw/f413rg/hello.elf`)."""
    mon = Monitor(seed=getattr(args, "seed", 0) or 0)
    console = Console(mon)
    root = logging.getLogger()
    handler = _ConsoleLogHandler(console)
    root.addHandler(handler)
    try:
        console.print_above("metersim monitor: `help` lists the commands, `quit` leaves")
        for cmd in getattr(args, "execute", None) or []:
            mon.execute(cmd)
        scene = getattr(args, "scene", None)
        if scene:
            try:
                mon.execute_script(scene)
            except MetersimError as exc:
                console.print_above(f"error: {exc}")
        return console.run()
    finally:
        root.removeHandler(handler)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="metersim console", description="Interactive monitor.")
    p.add_argument("scene", nargs="?", help=".resc scene to run first")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-e", "--execute", action="append", metavar="COMMAND",
                   help="monitor command to run before the scene (repeatable)")
    return p


if __name__ == "__main__":
    sys.exit(main_console(build_parser().parse_args()))
