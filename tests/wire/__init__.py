"""Wire-fidelity checks: our clients' requests against the official SDKs' for the same inputs (run by .ci/run)."""
