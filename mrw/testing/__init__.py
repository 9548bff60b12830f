"""Loopback stand-ins for the real services (media hosts, Reddit) and generated media, for
tests and benchmarks."""
