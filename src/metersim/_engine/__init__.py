"""The metersim engine: virtual clock, CPU core on unicorn, system bus, loader, machines."""
