"""A room's curve (energy and power against the readings' time: the cabinet's clock of each
snapshot, or the arrival of a reading that came without one) as a PNG."""

from __future__ import annotations

import io

from .domain import reading_time


def room_curve_png(room, readings) -> bytes:
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 3), dpi=100)
    ax = fig.add_subplot()
    t = [reading_time(r) for r in readings]
    ax.plot(t, [r.energy_Wh / 1000 for r in readings], color="tab:blue", marker=".")
    ax.set_ylabel("energy (kWh)", color="tab:blue")
    ax2 = ax.twinx()
    ax2.step(t, [r.power_100mW / 10 for r in readings], where="post", color="tab:orange")
    ax2.set_ylabel("power (W)", color="tab:orange")
    # from 0 with headroom: a steady load is a flat line below the frame, not noise magnified
    ax2.set_ylim(0, max((r.power_100mW / 10 for r in readings), default=0) * 1.15 or 1)
    ax.set_title(f"room {room.label}" + ("" if readings else " (no readings yet)"))
    from matplotlib.dates import DateFormatter
    ax.xaxis.set_major_formatter(DateFormatter("%H:%M:%S"))
    fig.autofmt_xdate()
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()
