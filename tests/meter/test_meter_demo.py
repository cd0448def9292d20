"""`make demo`'s meter part runs as the README shows it: a shortened day read over DL/T645,
energy by rate beside the reference integral, the LCD's key list and its picture."""

import io

from metersim._meter.demo import run_meter_demo


def test_the_meter_demo_reads_every_rate_beside_its_reference(tmp_path):
    out = io.StringIO()
    picture = tmp_path / "lcd.png"
    result = run_meter_demo(out=out, picture=picture)
    assert sorted(result) == [0, 1, 2, 3, 4]                  # total and the four rates
    for rate, (read_kWh, reference_kWh) in result.items():
        assert reference_kWh > 0
        assert abs(float(read_kWh) - float(reference_kWh)) <= 0.001 * float(reference_kWh) + 1e-4
    text = out.getvalue()
    assert "TOTAL NOW" in text and "REMAIN YUAN NOW" in text
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
