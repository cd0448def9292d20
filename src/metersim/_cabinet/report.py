"""Per-room table of a cabinet run: energy and cost (from the firmware over Modbus), balance,
trips, the reference energy of the room's profile and the error in percent."""

from __future__ import annotations

from metersim._cabinet.checks import reference_energy_Wh


def room_rows(board, master, names: list[str] | None = None) -> list[dict]:
    rows = []
    for r in range(len(board.profiles) or board.channels):
        rd = master.room(r)
        ref = reference_energy_Wh(board, r) if r in board.profiles else float("nan")
        err = 100.0 * (rd.energy_Wh - ref) / ref if ref and ref == ref else float("nan")
        rows.append({"room": r, "name": names[r] if names and r < len(names) else f"room{r}",
                     "energy_Wh": rd.energy_Wh, "cost_cents": rd.cost_cents,
                     "balance_cents": rd.balance_cents, "trips": rd.trips,
                     "last_trip": rd.trip_reason_name if rd.trips else "-",
                     "relay": "closed" if board.relay_closed(r) else "open",
                     "reference_Wh": ref, "error_pct": err})
    return rows


def format_table(rows: list[dict]) -> str:
    head = (f"{'room':>4} {'load':<10} {'energy kWh':>10} {'cost':>9} {'balance':>10} {'trips':>5} "
            f"{'last trip':<14} {'relay':<6} {'reference kWh':>13} {'error %':>8}")
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['room']:>4} {r['name']:<10} {r['energy_Wh'] / 1000:>10.3f} "
                     f"{r['cost_cents'] / 100:>9.2f} {r['balance_cents'] / 100:>10.2f} {r['trips']:>5} "
                     f"{r['last_trip']:<14} {r['relay']:<6} {r['reference_Wh'] / 1000:>13.4f} "
                     f"{r['error_pct']:>+8.3f}")
    return "\n".join(lines)
