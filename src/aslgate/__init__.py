"""aslgate: decide, with verified evidence, whether a model is safe to release and to whom."""

__version__ = "0.1.0"
