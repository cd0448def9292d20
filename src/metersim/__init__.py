"""metersim: run real smart-meter firmware on emulated STM32 boards with Python chip models.

`import metersim` is the API; everything a user needs is a name here:

    import metersim

    emu = metersim.Emulation(seed=1)
    board = metersim.create_machine(emu, "stm32f413", elf=metersim.find_firmware("f413rg", "hello"))
    console = metersim.capture_uart(board)
    console.expect("hello", timeout="1s")          # virtual time

Names are loaded on first use, so `import metersim` stays cheap. Modules not listed here are
the implementation and may change between releases.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# name -> module that defines it
_EXPORTS = {
    # the emulation, machines and firmware
    "Emulation": "metersim.engine.emulation",
    "Machine": "metersim.engine.machine",
    "create_machine": "metersim.engine.platform_builder",
    "Firmware": "metersim.engine.firmware",
    "machine_for_firmware": "metersim.engine.boards",
    "find_firmware": "metersim.resources",
    "find_platform": "metersim.resources",
    "Debugger": "metersim.engine.debug",
    # the physical world: load waveforms, appliances, the supply
    "LoadProfile": "metersim.orchestration.load_profile",
    "HarmonicProfile": "metersim.orchestration.load_profile",
    "SampledProfile": "metersim.orchestration.load_profile",
    "Supply": "metersim.orchestration.load_profile",
    "load_csv": "metersim.orchestration.load_profile",
    "load_npz": "metersim.orchestration.load_profile",
    "Appliance": "metersim.orchestration.appliances",
    "ResistiveHeater": "metersim.orchestration.appliances",
    "Kettle": "metersim.orchestration.appliances",
    "Motor": "metersim.orchestration.appliances",
    "SwitchModeSupply": "metersim.orchestration.appliances",
    "power_cut": "metersim.orchestration.power",
    "power_dip": "metersim.orchestration.power",
    # watching the firmware: UART and log testers (capture = a tester you read, not wait on)
    "UartTester": "metersim.orchestration.testers",
    "LogTester": "metersim.orchestration.testers",
    "capture_uart": "metersim.orchestration.testers",
    # traces
    "PcapWriter": "metersim.traces.pcap",
    "capture_uart_pcap": "metersim.traces.pcap",
    "capture_rs485_pcap": "metersim.traces.pcap",
    "read_pcap": "metersim.traces.pcap",
    "VbusRecord": "metersim.meter.vbus_trace",
    "parse_vbus_trace": "metersim.meter.vbus_trace",
    "VcdTracer": "metersim.traces.vcd",
    "format_summary": "metersim.traces.summary",
    # time with its unit
    "parse_time_ps": "metersim.units",
    # errors: one root
    "MetersimError": "metersim.errors",
    "SetupError": "metersim.errors",
    "PlatformError": "metersim.errors",
    "FirmwareFault": "metersim.errors",
    "EmulationTimeout": "metersim.errors",
    "HungEngine": "metersim.errors",
    "CheckFailed": "metersim.errors",
    # code coverage of firmware runs, on-target C unit tests
    "CoverageRecorder": "metersim.coverage.recorder",
    "CoverageData": "metersim.coverage.report",
    "list_c_test_cases": "metersim.orchestration.ctest_image",
    "run_c_test_image": "metersim.orchestration.ctest_image",
    # the meter's images: factory image, flashfs, start parameters, YMODEM upgrade
    "pack_factory_image": "metersim.image.pack",
    "read_factory_image": "metersim.image.pack",
    "image_from_elf": "metersim.image.elfimage",
    "load_binary": "metersim.engine.platform_builder",
    "ImageError": "metersim.image.header",
    "YmodemSender": "metersim.image.ymodem",
    "YmodemError": "metersim.image.ymodem",
    # the new-generation meter: DL/T645-2007 (codec and master), the metrology unit's link
    "dlt645": "metersim.dlt645",
    "MetrologyUnit": "metersim.meter.metrology_unit",
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
