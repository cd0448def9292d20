"""Field-bus protocols in layers, shared by the masters, the trace decoders and the docs.

- `modbus`: Modbus RTU (transport, framer, PDU codec, the metering controller's register table).
- `dlt645`: DL/T645-2007 (framer and read-data codec).
"""
