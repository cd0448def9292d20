# Renode-compatible pydev script (metersim's own): reads return 0, 1, 2 ... (one more each read).
if request.IsInit:
    lastVal = -1
elif request.IsRead:
    lastVal += 1
    request.Value = lastVal

self.NoisyLog("%s on COUNTER at 0x%x, value 0x%x" % (str(request.Type), request.Offset, request.Value))
