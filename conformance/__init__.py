"""Conformance test suite for the Keras SimpleRNN layer."""

__version__ = "0.1.0"
SUITE_NAME = "simplernn-conformance"
