"""metersim: run real smart-meter firmware on emulated STM32 boards with Python chip models."""

from metersim.errors import MetersimError

__version__ = "0.1.0"
__all__ = ["MetersimError", "__version__"]
