# metersim: `make demo` runs the main job, `make test` runs every test.
# Both install what they need on a fresh Debian machine and skip what is there.

VENV      ?= .venv
PY        := $(VENV)/bin/python
SUDO      := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PKGS  := gcc-arm-none-eabi libnewlib-arm-none-eabi
STAMP     := $(VENV)/.installed

.PHONY: all setup toolchain tools venv firmware test demo bench clean

all: firmware

setup: toolchain tools venv

# ARM toolchain and newlib from Debian, only when missing.
toolchain:
	@if ! command -v arm-none-eabi-gcc >/dev/null 2>&1 || \
	    ! [ -f /usr/lib/arm-none-eabi/newlib/libc.a -o -f /usr/lib/arm-none-eabi/lib/libc.a ]; then \
	    echo "installing $(APT_PKGS) from Debian"; \
	    $(SUDO) apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(APT_PKGS); \
	fi

# More Debian packages, each only when its command is missing (one apt-get for all):
#   qemu-system-arm  the behaviour cross-check of the engine tests and the CPU benchmark
#   tshark           tests check that Wireshark decodes metersim's Modbus pcaps
#   gdb-multiarch    the GDB stub's tests drive it
#   lcov (genhtml)   tests check that `metersim coverage` lcov files render in genhtml
#   postgresql       the head end's suite runs on a PostgreSQL server it starts (initdb, pg_ctl)
#   chromium, chromium-driver  the head end's dashboard is tested in headless Chromium
DEBIAN_TOOLS := qemu-system-arm:qemu-system-arm tshark:tshark gdb-multiarch:gdb-multiarch \
                genhtml:lcov /usr/lib/postgresql/*/bin/initdb:postgresql chromium:chromium \
                chromedriver:chromium-driver
tools:
	@missing=""; for t in $(DEBIAN_TOOLS); do \
	    command -v $${t%%:*} >/dev/null 2>&1 || ls $${t%%:*} >/dev/null 2>&1 || \
	        missing="$$missing $${t#*:}"; done; \
	if [ -n "$$missing" ]; then \
	    echo "installing$$missing from Debian"; \
	    echo "wireshark-common wireshark-common/install-setuid boolean false" | \
	        $(SUDO) debconf-set-selections; \
	    $(SUDO) apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

venv: $(STAMP)

# The engine's C extensions are optional for pip (a machine with no compiler still installs),
# not here: a failed build must not leave an older .so quietly in use.
$(STAMP): pyproject.toml setup.py src/metersim/_engine/_mpu_fill.c src/metersim/_engine/_block_clock.c \
		src/metersim/_engine/_hot_regs.c src/metersim/_engine/_hot_regs.h
	@[ -x $(PY) ] || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	rm -f src/metersim/_engine/_block_clock.*.so src/metersim/_engine/_mpu_fill.*.so
	$(PY) -m pip install -q -e .
	@$(PY) -c "import metersim._engine._block_clock, metersim._engine._mpu_fill" || { \
	    echo "the engine's C extensions did not build (see: $(PY) -m pip install -v -e .)" >&2; \
	    exit 1; }
	@touch $@

firmware: setup
	$(MAKE) -C firmware --no-print-directory

# Test files run in parallel, one worker per CPU (pytest-xdist; a file's tests stay together
# on one worker, so module fixtures are built once).
test: setup firmware
	$(PY) -m pytest -q -n auto --dist loadfile tests
	@if ls robot/*.robot >/dev/null 2>&1; then \
	    $(PY) -m robot --outputdir build/robot --loglevel INFO robot; fi

demo: setup firmware
	$(VENV)/bin/metersim demo

bench: setup firmware
	$(VENV)/bin/metersim bench cpu
	$(VENV)/bin/metersim bench idle
	$(VENV)/bin/metersim bench mpu

clean:
	rm -rf build

# The RTOS's on-target unit tests with their line coverage of firmware/rtos:
# build/coverage/coverage.info (lcov), coverage.xml (Cobertura), html/index.html (genhtml).
.PHONY: coverage
coverage: setup firmware
	$(PY) -m pytest -q tests/firmware/test_rtos_units_on_target.py \
	    --metersim-coverage build/coverage --metersim-coverage-include '*/firmware/rtos/*'
	genhtml -q -o build/coverage/html build/coverage/coverage.info

