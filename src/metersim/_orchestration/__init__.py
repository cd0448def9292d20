"""Driving the physical world and checking what the firmware does: load profiles, traces, checks."""

from metersim._orchestration.load_profile import (  # noqa: F401
    Energy, Harmonic, HarmonicProfile, Integrals, LoadProfile, LoadProfileError, SampledProfile,
    Segment, Supply, load_csv, load_npz,
)
from metersim._orchestration.appliances import (  # noqa: F401
    Appliance, Kettle, Motor, ResistiveHeater, SwitchModeSupply,
)
