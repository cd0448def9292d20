"""A bad campaign spec is refused before anything runs, with the file, the line, the field and
what was expected."""

from __future__ import annotations

import pytest

from metersim._campaign.matrix import expand
from metersim._campaign.spec import load_spec, parse_spec
from metersim._campaign.spec_source import SpecError
from metersim._campaign.systems import SYSTEMS

GOOD = """\
system: controller
firmware:
  v1: {elf}
scenario:
  duration: 3s
  loads:
    standard: {{power_W: 1500}}
  faults:
    power_cuts: {{random: 1, off_ms: 300}}
matrix:
  price_cents_per_kWh: [60, 120]
seeds: [1, 2]
"""


def spec_text(elf, **replace) -> str:
    text = GOOD.format(elf=elf)
    for old, new in replace.items():
        assert old in text
        text = text.replace(old, new)
    return text


def refused(elf, tmp_path, **replace) -> str:
    f = tmp_path / "bad.yaml"
    f.write_text(spec_text(elf, **replace))
    with pytest.raises(SpecError) as e:
        load_spec(f)
    return str(e.value)


def test_a_good_spec_expands_to_the_matrix_times_the_seeds(controller_elf, tmp_path):
    f = tmp_path / "good.yaml"
    f.write_text(spec_text(controller_elf, **{"duration: 3s": "duration: 6s"}))
    scenarios = expand(load_spec(f))
    assert [(s.params["price_cents_per_kWh"], s.seed) for s in scenarios] == [(60, 1), (60, 2), (120, 1), (120, 2)]
    assert len({s.scenario_id for s in scenarios}) == 4
    assert all(s.scenario["price_cents_per_kWh"] == s.params["price_cents_per_kWh"] for s in scenarios)


def test_an_unknown_system_lists_the_systems_that_exist(controller_elf, tmp_path):
    msg = refused(controller_elf, tmp_path, **{"system: controller": "system: cabinet"})
    assert "bad.yaml:1: system: expected a system that exists: " + ", ".join(SYSTEMS) in msg
    assert "meter" in SYSTEMS and "query-manager" in SYSTEMS and "got 'cabinet'" in msg


def test_a_bad_duration_names_its_line_and_the_expected_form(controller_elf, tmp_path):
    msg = refused(controller_elf, tmp_path, **{"duration: 3s": "duration: three seconds"})
    assert "bad.yaml:5: scenario.duration: expected a duration such as 3s" in msg
    assert "'three seconds'" in msg


def test_a_bad_matrix_value_is_reported_at_its_line_in_the_matrix(controller_elf, tmp_path):
    msg = refused(controller_elf, tmp_path, **{"duration: 3s": "duration: 6s",
                                               "[60, 120]": "\n    - 60\n    - -5"})
    assert ("bad.yaml:13: matrix price_cents_per_kWh[1] (scenario.price_cents_per_kWh): "
            "expected an integer in 1..65535, got -5") in msg


def test_a_power_cut_that_leaves_no_time_to_restart_is_refused(controller_elf, tmp_path):
    msg = refused(controller_elf, tmp_path)          # 3 s: boot, a cut and 2.5 s to restart do not fit
    assert "bad.yaml:9: scenario.faults.power_cuts: expected a duration long enough for a cut" in msg


def test_an_unknown_key_and_a_missing_field_are_named(controller_elf, tmp_path):
    msg = refused(controller_elf, tmp_path, **{"  duration: 3s": "  duration: 6s\n  credit: 5"})
    assert "bad.yaml:6: scenario key 'credit': expected one of the keys firmware, duration" in msg
    msg = refused(controller_elf, tmp_path, **{"  duration: 3s\n": ""})
    assert "bad.yaml:5: scenario.duration: expected a value (this field is required)" in msg


def test_a_missing_firmware_file_and_bad_yaml(controller_elf, tmp_path):
    msg = refused(controller_elf, tmp_path, **{str(controller_elf): "nowhere/fw.elf"})
    assert "bad.yaml:3: firmware.v1: expected an ELF file that exists" in msg
    with pytest.raises(SpecError, match=r"<spec>:3: not valid YAML: expected ',' or '\]'.* starts at line 2"):
        parse_spec("system: controller\nscenario: [1, 2\n")
