"""Package map: the `peripherals/` folder is installed as `metersim.peripherals`, the Renode-format
`platforms/` folder as package data `metersim.platforms` (see metersim._resources).

Two small C extensions are built from source: the MPU's TLB fill (src/metersim/_engine/_mpu_fill.c)
and the per-block instruction count (src/metersim/_engine/_block_clock.c, with the registers it
answers in C, _hot_regs.c). Both are optional at run time: without them the same rules run in
Python, or unicorn counts every instruction, slower."""
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
                  "metersim._frontends": ["*.resource"], "metersim.peripherals": ["*.csv"],
                  "metersim._headend": ["static/*"]},
    include_package_data=True,
    ext_modules=[Extension("metersim._engine._mpu_fill", ["src/metersim/_engine/_mpu_fill.c"],
                           extra_compile_args=["-O2", "-Wall", "-Werror"], optional=True),
                 Extension("metersim._engine._block_clock", ["src/metersim/_engine/_block_clock.c",
                                                             "src/metersim/_engine/_hot_regs.c"],
                           depends=["src/metersim/_engine/_hot_regs.h"],
                           extra_compile_args=["-O2", "-Wall", "-Werror"], optional=True)],
)
