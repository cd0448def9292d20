"""Package map: the `peripherals/` folder is installed as `metersim.peripherals`, the Renode-format
`platforms/` folder as package data `metersim.platforms` (see metersim.resources).

One small C extension is built from source: the MPU's TLB fill (src/metersim/engine/_mpu_fill.c).
It is optional at run time: without it the same rules run in Python, slower."""
from setuptools import Extension, find_packages, setup

packages = find_packages("src") + ["metersim.peripherals"] + [
    "metersim.peripherals." + name for name in find_packages("peripherals")
] + ["metersim.platforms"]
setup(
    packages=packages,
    package_dir={"metersim": "src/metersim", "metersim.peripherals": "peripherals",
                 "metersim.platforms": "platforms"},
    package_data={"metersim.platforms": ["cpus/*.repl", "boards/*.repl", "scenes/*.resc",
                                        "scripts/pydev/*.py"],
                  "metersim.frontends": ["*.resource"]},
    include_package_data=True,
    ext_modules=[Extension("metersim.engine._mpu_fill", ["src/metersim/engine/_mpu_fill.c"],
                           extra_compile_args=["-O2", "-Wall", "-Werror"], optional=True)],
)
