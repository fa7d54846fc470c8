"""Backpropagation through time for the reference SimpleRNN, in float64.

`gradients(layer, inputs, upstream, mask=None, initial_state=None)` returns the
gradients of L = sum_k sum(returned_k * upstream_k) with respect to the
inputs, the kernel, the recurrent kernel, the bias and the initial state,
where returned_k are the tensors the layer's call returns (the output, then
the state with return_state). Inference mode: no dropout.

The forward pass is the one of `SimpleRNN._recurrence`, written out again so
that each intermediate value is kept:

    z_t    = x_t @ kernel + h_{t-1} @ recurrent_kernel + bias
    cand_t = activation(z_t)
    out_t  = cand_t  if step t is kept, else out_{t-1}
    h_t    = cand_t  if step t is kept, else h_{t-1}

and the backward pass walks the steps in reverse processing order.
"""

import numpy as np

# d activation / d z, written with the activation's output y = f(z) where that is simplest.
DERIVATIVES = {
    "linear": lambda z, y: np.ones_like(z),
    "tanh": lambda z, y: 1.0 - y * y,
    "relu": lambda z, y: (z > 0).astype(np.float64),
    "sigmoid": lambda z, y: y * (1.0 - y),
    "hard_sigmoid": lambda z, y: ((z > -3.0) & (z < 3.0)) / 6.0,
    "softsign": lambda z, y: 1.0 / np.square(1.0 + np.abs(z)),
    "elu": lambda z, y: np.where(z > 0, 1.0, np.exp(np.minimum(z, 0.0))),
    "exponential": lambda z, y: y,
}


def gradients(layer, inputs, upstream, mask=None, initial_state=None):
    x = np.asarray(inputs, dtype=np.float64)
    if not layer.built:
        layer.build(x.shape)
    batch, timesteps, _ = x.shape
    if initial_state is not None:
        h0 = np.asarray(initial_state[0] if isinstance(initial_state, (list, tuple)) else initial_state, dtype=np.float64)
    elif layer.stateful and layer._state is not None:
        h0 = layer._state
    else:
        h0 = np.zeros((batch, layer.units))
    keep = np.ones((batch, timesteps), dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    kernel, recurrent = layer.kernel, layer.recurrent_kernel
    bias = layer.bias if layer.use_bias else np.zeros(layer.units)
    derivative = DERIVATIVES[layer._activation_name]
    order = list(range(timesteps))[::-1] if layer.go_backwards else list(range(timesteps))
    emits_zeros = layer.masked_output_before_first_step == "zeros"

    # Forward, keeping what the backward pass needs.
    h, tape = h0, []
    for t in order:
        z = x[:, t, :] @ kernel + h @ recurrent + bias
        tape.append((t, h, z, layer.activation(z), keep[:, t, None]))
        h = np.where(keep[:, t, None], tape[-1][3], h)

    # Upstream gradients: for the sequence (in processing order) or the last output, then the state.
    upstream = list(upstream)
    g_sequence = upstream.pop(0) if layer.return_sequences else None
    g_out = np.zeros((batch, layer.units)) if layer.return_sequences else np.array(upstream.pop(0), dtype=np.float64)
    g_h = np.array(upstream.pop(0), dtype=np.float64) if layer.return_state else np.zeros((batch, layer.units))

    g_x = np.zeros_like(x)
    g_kernel, g_recurrent, g_bias = np.zeros_like(kernel), np.zeros_like(recurrent), np.zeros(layer.units)
    for position in reversed(range(len(order))):
        t, h_prev, z, y, m = tape[position]
        if g_sequence is not None:
            g_out = g_out + g_sequence[:, position, :]
        g_z = np.where(m, (g_out + g_h) * derivative(z, y), 0.0)
        g_out = np.where(m, 0.0, g_out)  # a masked step passes its output's gradient back to out_{t-1}
        g_h = np.where(m, 0.0, g_h) + g_z @ recurrent.T
        g_kernel += np.where(m, x[:, t, :], 0.0).T @ g_z
        g_recurrent += h_prev.T @ g_z
        g_bias += g_z.sum(axis=0)
        g_x[:, t, :] = g_z @ kernel.T
    # What is left of g_out reaches the zeros emitted before the first kept step (no gradient),
    # or, where those steps emit the initial state instead, the initial state.
    g_h0 = g_h if emits_zeros else g_h + g_out
    result = {"inputs": g_x, "kernel": g_kernel, "recurrent_kernel": g_recurrent}
    if layer.use_bias:
        result["bias"] = g_bias
    if initial_state is not None:
        result["initial_state"] = g_h0
    return result


def upstream_for(shape):
    """The fixed weights of the loss: cos(0), cos(1), ... over the tensor in C order."""
    return np.cos(np.arange(int(np.prod(shape)), dtype=np.float64)).reshape(shape)
