# metersim: `make demo` runs the main job, `make test` runs every test.
# Both install what they need on a fresh Debian machine and skip what is there.

VENV      ?= .venv
PY        := $(VENV)/bin/python
SUDO      := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PKGS  := gcc-arm-none-eabi libnewlib-arm-none-eabi
STAMP     := $(VENV)/.installed

.PHONY: all setup toolchain debugger venv firmware test demo bench clean

all: firmware

setup: toolchain debugger venv

# ARM toolchain and newlib from Debian, only when missing.
toolchain:
	@if ! command -v arm-none-eabi-gcc >/dev/null 2>&1 || \
	    ! [ -f /usr/lib/arm-none-eabi/newlib/libc.a -o -f /usr/lib/arm-none-eabi/lib/libc.a ]; then \
	    echo "installing $(APT_PKGS) from Debian"; \
	    $(SUDO) apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(APT_PKGS); \
	fi

# gdb-multiarch from Debian (the GDB stub's tests drive it), only when missing.
debugger:
	@if ! command -v gdb-multiarch >/dev/null 2>&1; then \
	    echo "installing gdb-multiarch from Debian"; \
	    $(SUDO) apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq gdb-multiarch; \
	fi

venv: $(STAMP)

$(STAMP): pyproject.toml setup.py
	@[ -x $(PY) ] || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	@touch $@

firmware: setup
	$(MAKE) -C firmware --no-print-directory

test: setup firmware
	$(PY) -m pytest -q tests
	@if ls robot/*.robot >/dev/null 2>&1; then \
	    $(PY) -m robot --outputdir build/robot --loglevel INFO robot; fi

demo: setup firmware
	$(VENV)/bin/metersim demo

bench: setup firmware
	$(VENV)/bin/metersim bench cpu
	$(VENV)/bin/metersim bench idle

clean:
	rm -rf build
