"""The RTOS's own C unit tests (firmware/rtos/tests/unit_*, mstest) run on the emulated boards;
each C case is a pytest item of its own (see metersim._frontends.pytest_ctest)."""

from metersim._frontends.pytest_ctest import c_tests

unit_ds_f413 = c_tests("unit_ds", target="f413rg")
unit_kernel_f413 = c_tests("unit_kernel", target="f413rg")
unit_ds_f103 = c_tests("unit_ds", target="f103rb")
unit_kernel_f103 = c_tests("unit_kernel", target="f103rb")
