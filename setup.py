"""Package map: the `peripherals/` folder is installed as `metersim.peripherals`."""
from setuptools import find_packages, setup

packages = find_packages("src") + ["metersim.peripherals"] + [
    "metersim.peripherals." + name for name in find_packages("peripherals")
]
setup(
    packages=packages,
    package_dir={"metersim": "src/metersim", "metersim.peripherals": "peripherals"},
    include_package_data=True,
)
