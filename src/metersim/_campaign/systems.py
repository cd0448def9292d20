"""The systems a campaign scenario can simulate. Each is a module with

    NAME: str
    validate(src, path, template, firmware_names) -> dict   # the scenario, plain JSON data
    run(scenario, seed, elf_paths) -> dict                  # metrics, checks, trace hash

The metering controller (alone and its Modbus link) and the new-generation meter's DL/T645
ports; the whole cabinet plugs in here by adding its module to SYSTEMS.
"""

from __future__ import annotations

import importlib

SYSTEMS = {
    "controller": "metersim._campaign.controller_system",
    "controller-link": "metersim._campaign.link_system",
    "meter-dlt645": "metersim._meter.dlt645_campaign",
    "meter": "metersim._campaign.meter_system",
    "query-manager": "metersim._campaign.query_manager_system",
}


def system_module(name: str):
    return importlib.import_module(SYSTEMS[name])
