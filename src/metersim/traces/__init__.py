"""Traces and pictures of a run: pcap files of bus traffic, VCD waveforms, plots, run summaries."""
