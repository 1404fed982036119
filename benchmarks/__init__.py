"""Benchmarks of the proxies against the plain SDKs, on the local cloud emulator (127.0.0.1).

Run ``python -m benchmarks`` (or ``python benchmarks/run.py``) from the repository root;
``--quick`` for a smoke run. Each figure is a median over repeated rounds, measured
interleaved (ABAB) with the plain SDK in the same process, because the machine is shared
and noisy: interleaving cancels drift, medians ignore stalls.
"""
