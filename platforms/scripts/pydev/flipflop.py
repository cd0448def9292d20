# Renode-compatible pydev script (metersim's own): every access flips the block between all
# zeros and all ones, so a firmware polling a status flag sees it set on the next read.
# Use: Python.PythonPeripheral { size: 0x4; initable: true; filename: "scripts/pydev/flipflop.py" }
if request.IsInit:
    lastVal = 0
else:
    lastVal = 1 - lastVal
    request.Value = lastVal * 0xFFFFFFFF

self.NoisyLog("%s on FLIPFLOP at 0x%x, value 0x%x" % (str(request.Type), request.Offset, request.Value))
