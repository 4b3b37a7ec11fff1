"""Benchmarks: speed and quality, each figure printed beside its comparison (`make bench`)."""
