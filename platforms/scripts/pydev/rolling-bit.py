# Renode-compatible pydev script (metersim's own): each access returns a single set bit that
# moves up one place (1, 2, 4 ... 0x80000000, then 0 and again from 1).
if request.IsInit:
    lastVal = 0
else:
    lastVal = 1 if lastVal == 0 else (lastVal << 1) & 0xFFFFFFFF
    request.Value = lastVal

self.NoisyLog("%s on ROLLING_BIT at 0x%x, value 0x%x" % (str(request.Type), request.Offset, request.Value))
