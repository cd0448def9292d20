# runs in the monitor's Python: the machine and the monitor are there, as in Renode
led = machine["sysbus.led"]
monitor.Parse('set led_state "%s"' % led.State)
monitor.Parse('$from_python = "%s"' % machine.Name)
