"""The one version number of the distribution: setup.py reads it (without importing the package), and
``managed-credentials --version`` and ``credentials.__version__`` show it."""

__version__ = "0.1.0"
