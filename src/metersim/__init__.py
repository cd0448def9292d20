"""metersim: run real smart-meter firmware on emulated STM32 boards with Python chip models.

`import metersim` is the API; everything a user needs is a name here:

    import metersim

    emu = metersim.Emulation(seed=1)
    board = metersim.create_machine(emu, "stm32f413", elf=metersim.find_firmware("f413rg", "hello"))
    console = metersim.capture_uart(board)
    console.expect("hello", timeout="1s")          # virtual time

Names are loaded on first use, so `import metersim` stays cheap. The other public modules are
the ones users name themselves: `metersim.robot` and `metersim.robot.cabinet` (Robot Framework
libraries), `metersim.pytest_plugin`, `metersim.dlt645` (DL/T645-2007 master and codec),
`metersim.pyrenode3` (pyrenode3-compatible API), `metersim.peripherals` (chip models, the base
for user models) and `metersim.platforms` (Renode-format platform files); `python -m metersim`
is the `metersim` command. Modules and packages whose names start with `_` are the
implementation and may change between releases.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# name -> module that defines it
_EXPORTS = {
    # the emulation, machines and firmware
    "Emulation": "metersim._engine.emulation",
    "Machine": "metersim._engine.machine",
    "create_machine": "metersim._engine.platform_builder",
    "Firmware": "metersim._engine.firmware",
    "machine_for_firmware": "metersim._engine.boards",
    "find_firmware": "metersim._resources",
    "find_platform": "metersim._resources",
    "Debugger": "metersim._engine.debug",
    # the physical world: load waveforms, appliances, the supply
    "LoadProfile": "metersim._orchestration.load_profile",
    "HarmonicProfile": "metersim._orchestration.load_profile",
    "SampledProfile": "metersim._orchestration.load_profile",
    "Supply": "metersim._orchestration.load_profile",
    "load_csv": "metersim._orchestration.load_profile",
    "load_npz": "metersim._orchestration.load_profile",
    "Appliance": "metersim._orchestration.appliances",
    "ResistiveHeater": "metersim._orchestration.appliances",
    "Kettle": "metersim._orchestration.appliances",
    "Motor": "metersim._orchestration.appliances",
    "SwitchModeSupply": "metersim._orchestration.appliances",
    "power_cut": "metersim._orchestration.power",
    "power_dip": "metersim._orchestration.power",
    # watching the firmware: UART and log testers (capture = a tester you read, not wait on)
    "UartTester": "metersim._orchestration.testers",
    "LogTester": "metersim._orchestration.testers",
    "capture_uart": "metersim._orchestration.testers",
    # traces
    "PcapWriter": "metersim._traces.pcap",
    "capture_uart_pcap": "metersim._traces.pcap",
    "capture_rs485_pcap": "metersim._traces.pcap",
    "read_pcap": "metersim._traces.pcap",
    "VbusRecord": "metersim._meter.vbus_trace",
    "parse_vbus_trace": "metersim._meter.vbus_trace",
    "VcdTracer": "metersim._traces.vcd",
    "format_summary": "metersim._traces.summary",
    # time with its unit
    "parse_time_ps": "metersim._units",
    # errors: one root
    "MetersimError": "metersim._errors",
    "SetupError": "metersim._errors",
    "PlatformError": "metersim._errors",
    "FirmwareFault": "metersim._errors",
    "EmulationTimeout": "metersim._errors",
    "HungEngine": "metersim._errors",
    "CheckFailed": "metersim._errors",
    # code coverage of firmware runs, on-target C unit tests
    "CoverageRecorder": "metersim._coverage.recorder",
    "CoverageData": "metersim._coverage.report",
    "list_c_test_cases": "metersim._orchestration.ctest_image",
    "run_c_test_image": "metersim._orchestration.ctest_image",
    "c_tests": "metersim._frontends.pytest_ctest",
    # campaigns: fleets of scenarios on a local pool or Dask
    "load_spec": "metersim._campaign.spec",
    "run_campaign": "metersim._campaign.runner",
    # the meter's images: factory image, flashfs, start parameters, YMODEM upgrade
    "pack_factory_image": "metersim._image.pack",
    "read_factory_image": "metersim._image.pack",
    "image_from_elf": "metersim._image.elfimage",
    "load_binary": "metersim._engine.platform_builder",
    "ImageError": "metersim._image.header",
    "YmodemSender": "metersim._image.ymodem",
    "YmodemError": "metersim._image.ymodem",
    # the new-generation meter: both units wired (build_meter), the metrology unit's handle,
    # DL/T645-2007 (codec and master)
    "dlt645": "metersim.dlt645",
    "build_meter": "metersim._meter.metrology_unit",
    "MetrologyUnit": "metersim._meter.metrology_unit",
    # the cabinets' PC server (database, query-manager link, REST API, dashboard)
    "Headend": "metersim._headend",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'metersim' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
