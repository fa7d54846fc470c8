"""The reference SimpleRNN: a readable NumPy model of Keras's layer, in float64."""

from .simple_rnn import SimpleRNN

__all__ = ["SimpleRNN"]
