"""Activation functions, looked up by the names Keras accepts.

Spec: "activation: Activation function to use. Default: hyperbolic tangent
(tanh). If you pass None, no activation is applied (ie. "linear" activation:
a(x) = x)."
"""

import numpy as np


def linear(x):
    return x


def tanh(x):
    return np.tanh(x)


def relu(x):
    return np.maximum(x, 0.0)


def sigmoid(x):
    # Written as 1 / (1 + exp(-x)), split by sign so that neither branch overflows.
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    ex = np.exp(x[~pos])
    out[~pos] = ex / (1.0 + ex)
    return out


def hard_sigmoid(x):
    # Keras 3: relu6(x + 3) / 6, i.e. clip(x / 6 + 0.5, 0, 1).
    return np.clip(x / 6.0 + 0.5, 0.0, 1.0)


def softsign(x):
    return x / (1.0 + np.abs(x))


def elu(x):
    return np.where(x > 0, x, np.expm1(np.minimum(x, 0.0)))


def exponential(x):
    return np.exp(x)


ACTIVATIONS = {
    "linear": linear,
    "tanh": tanh,
    "relu": relu,
    "sigmoid": sigmoid,
    "hard_sigmoid": hard_sigmoid,
    "softsign": softsign,
    "elu": elu,
    "exponential": exponential,
}


def get(identifier):
    """Return (name, function) for a name, None, or {"callable": name}."""
    if identifier is None:
        # Spec: "If you pass None, no activation is applied (ie. "linear" activation)".
        return "linear", linear
    if isinstance(identifier, dict) and set(identifier) == {"callable"}:
        identifier = identifier["callable"]
    if callable(identifier):
        for name, fn in ACTIVATIONS.items():
            if fn is identifier:
                return name, fn
        raise ValueError(f"Unknown activation function object: {identifier!r}")
    if isinstance(identifier, str) and identifier in ACTIVATIONS:
        return identifier, ACTIVATIONS[identifier]
    raise ValueError(
        f"Unknown activation: {identifier!r}. The reference knows "
        f"{sorted(ACTIVATIONS)}."
    )
