"""Errors of the trace writers (pcap, VCD, plots)."""

from metersim._errors import SetupError


class TraceError(SetupError):
    """A trace could not be set up or written (bad argument, closed writer, late registration)."""
