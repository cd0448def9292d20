# A script written to pyrenode3's documented API (antmicro/pyrenode3: README and
# examples/stm32l072-shell.py, unleashed-fomu.py), as it runs against Renode. For metersim
# only its two imports change (tests/pyrenode3/test_pyrenode3_wrappers.py does that):
#   from metersim.pyrenode3.wrappers import Analyzer, Emulation, Monitor, TerminalTester
#   from metersim.pyrenode3 import TimeInterval
# Run from the repository root.
from pyrenode3.wrappers import Analyzer, Emulation, Monitor, TerminalTester
from Antmicro.Renode.Time import TimeInterval

e = Emulation()
m = Monitor()

f413 = e.add_mach("f413")
f413.load_repl("platforms/cpus/stm32f413.repl")
f413.load_elf("build/fw/f413rg/hello.elf")

Analyzer(f413.sysbus.usart1).Show()
tester = TerminalTester(f413.sysbus.usart1, 5)

e.StartAll()
banner = tester.WaitFor("metersim hello on")
print("banner:", banner.Line)

line = tester.WaitFor(r"uptime (\d+) s", treatAsRegex=True, pauseEmulation=True)
print("uptime", line.Groups[0], "at", round(line.Timestamp), "ms")

out, err = m.execute("sysbus ReadDoubleWord 0xE000ED00")
print("CPUID via monitor:", out.strip(), err)
print("CPUID via sysbus: 0x%08X" % f413.sysbus.ReadDoubleWord(0xE000ED00))
print("PC in flash:", 0x08000000 <= f413.sysbus.cpu.PC.RawValue < 0x08100000)

e.RunFor(TimeInterval.FromSeconds(5))
print("PASS seen:", tester.WaitFor("PASS", timeout=0) is not None)
print("missing line:", tester.WaitFor("never printed", timeout=1))
out, err = m.execute("no_such_command")
print("error:", bool(err))
e.PauseAll()
