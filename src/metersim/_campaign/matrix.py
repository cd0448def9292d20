"""The scenarios of a campaign: every combination of the matrix's values, times every seed,
in a fixed order, each with an id that hashes everything that decides its outcome (the
validated scenario, the seed and the firmware's content hash)."""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass

from metersim._campaign.spec import CampaignSpec, scenario_of


@dataclass(frozen=True)
class Scenario:
    index: int
    scenario_id: str
    params: dict             # matrix key -> value of this combination
    seed: int
    system: str
    scenario: dict           # the validated scenario (plain data)
    firmware: str            # the firmware name the scenario runs
    firmware_sha256: str

    @property
    def params_json(self) -> str:
        return json.dumps(self.params, sort_keys=True)


def combinations(spec: CampaignSpec):
    """{key: (value, index in its list)} for every combination, in file order."""
    keys = [k for k, _ in spec.matrix]
    lists = [list(enumerate(v)) for _, v in spec.matrix]
    for picks in itertools.product(*lists):
        yield {k: (v, i) for k, (i, v) in zip(keys, picks)}


def expand(spec: CampaignSpec) -> list[Scenario]:
    out = []
    for combo in combinations(spec):
        sc = scenario_of(spec, combo)
        fw = spec.firmware[sc["firmware"]]
        params = {k: v for k, (v, _) in combo.items()}
        for seed in spec.seeds:
            ident = json.dumps({"system": spec.system, "scenario": sc, "seed": seed,
                                "firmware": fw.sha256}, sort_keys=True)
            sid = hashlib.sha1(ident.encode()).hexdigest()[:16]
            out.append(Scenario(len(out), sid, params, seed, spec.system, sc, fw.name, fw.sha256))
    return out
