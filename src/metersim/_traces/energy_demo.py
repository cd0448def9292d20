"""The docs pictures: an ADE7753 metering a household load for 10 minutes, read over SPI.

Deterministic scenario (no firmware, Python level): a 230 V / 50 Hz supply with 2 % third
harmonic and a 0.5 s sag to 70 % at t = 300 s feeds
- a 2 kW resistive heater, on 60 s .. 420 s,
- a 1.1 kW motor (PF 0.8 lagging, 5x inrush over 2 s), on 150 s .. 480 s,
- a 150 W switch-mode supply (harmonic current, displacement PF 0.95), on all the time.
The ADE7753 (default cabinet front end: 1000:1 divider, 50 A / 20 mA CT, 10 ohm burden) gets the
profile; every second of virtual time a reader does what a driver does on the SPI bus: CS low,
communications byte 0x02 (read AENERGY), three data bytes, CS high. It accumulates the 24-bit
signed register's increments (mod 2^24, so wraps are harmless) times `energy_lsb_Wh()`.

Run `python -m metersim._traces.energy_demo [out_dir]` (default docs/img) to write
energy_vs_reference.png, injected_waveforms.png and channel_power.png.
"""

from __future__ import annotations

import sys
from pathlib import Path

from metersim._orchestration import Motor, ResistiveHeater, Supply, SwitchModeSupply
from metersim.peripherals.ade7753 import Ade7753
from metersim.peripherals.base import Context
from metersim._traces.plots import plot_channel_power, plot_energy_vs_reference, plot_waveforms
from metersim._units import PS_PER_S

AENERGY = 0x02


def appliances() -> dict:
    return {
        "heater 2 kW": ResistiveHeater(2000.0, schedule=[(60.0, 420.0)]),
        "motor 1.1 kW, PF 0.8": Motor(1100.0, pf=0.8, schedule=[(150.0, 480.0)],
                                      inrush_factor=5.0, inrush_s=2.0),
        "SMPS 150 W": SwitchModeSupply(150.0),
    }


def supply() -> Supply:
    return Supply(230.0, 50.0, harmonics=[(3, 0.02, 0.0)]).sag(300.0, 0.5, retained=0.7)


def read_aenergy(chip: Ade7753) -> int:
    """One SPI register read as a driver does it: CS low, command byte, 3 data bytes, CS high."""
    chip.on_gpio(0, False)
    chip.transmit(AENERGY)
    raw = 0
    for _ in range(3):
        raw = (raw << 8) | chip.transmit(0x00)
    chip.on_gpio(0, True)
    return raw


def run_scenario(duration_s: int = 600, read_every_s: int = 1, loads: dict | None = None):
    """(measured [(t_s, energy_Wh)], profile, chip) after `duration_s` of virtual time."""
    loads = appliances() if loads is None else loads
    profile = supply().profile(*loads.values(), end_s=float(duration_s) + 1.0)
    ctx = Context.standalone("ade7753")
    chip = Ade7753(ctx)
    chip.attach_load(profile)
    lsb_Wh = chip.energy_lsb_Wh()
    state = {"last": read_aenergy(chip), "Wh": 0.0}
    measured = [(0.0, 0.0)]

    def sample() -> None:
        raw = read_aenergy(chip)
        delta = (raw - state["last"]) & 0xFFFFFF
        if delta & 0x800000:
            delta -= 1 << 24                  # signed increment (reverse energy)
        state["last"] = raw
        state["Wh"] += delta * lsb_Wh
        measured.append((ctx.clock.now_ps / PS_PER_S, state["Wh"]))
        if ctx.clock.now_ps < duration_s * PS_PER_S:
            ctx.clock.schedule(read_every_s * PS_PER_S, sample)

    ctx.clock.schedule(read_every_s * PS_PER_S, sample)
    ctx.clock.run_for(duration_s * PS_PER_S)
    return measured, profile, chip


def make_pictures(out_dir: str | Path = "docs/img", duration_s: int = 600):
    out = Path(out_dir)
    measured, profile, chip = run_scenario(duration_s)
    cmp = plot_energy_vs_reference(
        measured, profile, out / "energy_vs_reference.png",
        title=f"ADE7753 model, AENERGY read over SPI every second vs exact reference "
              f"({duration_s // 60} min: heater, motor, SMPS; 0.5 s sag at 300 s)",
        resolution_Wh=chip.energy_lsb_Wh(),
        measured_label=f"measured: sum of AENERGY increments x {chip.energy_lsb_Wh() * 1e3:.4f} mWh/LSB")
    t_w = 200.0 if duration_s >= 240 else duration_s / 2   # heater, motor and SMPS all on at 200 s
    waves = plot_waveforms(profile, out / "injected_waveforms.png", t0_s=t_w, cycles=3,
                           title=f"Injected waveforms at t = {t_w:g} s: heater + motor + SMPS on a "
                                 "230 V supply with 2 % 3rd harmonic")
    sup = supply()
    channels = {name: sup.profile(load, end_s=duration_s + 1.0) for name, load in appliances().items()}
    channels["total"] = profile
    plot_channel_power(channels, out / "channel_power.png", 0.0, float(duration_s),
                       title="Active power per appliance and in total (reference load profiles)")
    return cmp, waves


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    cmp, _ = make_pictures(args[0] if args else "docs/img")
    print(f"wrote {cmp.path}: {cmp.measured_Wh[-1]:.3f} Wh measured, "
          f"{cmp.reference_Wh[-1]:.3f} Wh reference, error {cmp.final_error_pct:+.2g} %")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
