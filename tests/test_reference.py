"""The NumPy reference against hand computations.

Every expected number here is computed in the test itself, with plain NumPy
(or by hand), from small explicit weights and inputs; nothing calls the
reference's internals.
"""

import numpy as np
import pytest

from reference_impl import SimpleRNN

K = np.array([[0.5, -0.2], [0.1, 0.3]])          # kernel (features 2, units 2)
U = np.array([[0.4, 0.0], [-0.3, 0.2]])          # recurrent kernel
B = np.array([0.1, -0.1])                        # bias
X = np.array([[[1.0, 2.0], [0.0, -1.0], [0.5, 0.5]]])   # (batch 1, time 3, features 2)


def layer(**kwargs):
    kwargs.setdefault("units", 2)
    rnn = SimpleRNN(**kwargs)
    rnn.build((1, 3, 2))
    weights = [K, U] + ([B] if kwargs.get("use_bias", True) else [])
    rnn.set_weights(weights)
    return rnn


def loop(x, h, activation=np.tanh, bias=B, kernel=K, recurrent=U):
    """The recurrence written out: h_t = activation(x_t K + h_{t-1} U + b), every output."""
    outs = []
    for t in range(x.shape[1]):
        h = activation(x[:, t] @ kernel + h @ recurrent + bias)
        outs.append(h)
    return np.stack(outs, axis=1)


# --------------------------------------------------------------------------- the recurrence

def test_first_step_by_hand():
    out = layer(return_sequences=True)(X)
    # x_0 K + b = [1*0.5 + 2*0.1 + 0.1, 1*-0.2 + 2*0.3 - 0.1] = [0.8, 0.3]; h_0 = 0
    np.testing.assert_allclose(out[0, 0], np.tanh([0.8, 0.3]), rtol=0, atol=1e-15)


def test_recurrence_matches_loop():
    seq = layer(return_sequences=True)(X)
    np.testing.assert_allclose(seq, loop(X, np.zeros((1, 2))), rtol=1e-14, atol=1e-15)
    last = layer()(X)
    np.testing.assert_allclose(last, seq[:, -1], rtol=0, atol=0)
    assert seq.shape == (1, 3, 2) and last.shape == (1, 2)


def test_activation_none_is_linear_by_hand():
    seq = layer(activation=None, return_sequences=True)(X)
    # h1 = [0.8, 0.3]
    # h2 = x1 K + h1 U + b = [-0.1 + (0.32 - 0.09) + 0.1, -0.3 + 0.06 - 0.1] = [0.23, -0.34]
    np.testing.assert_allclose(seq[0, 0], [0.8, 0.3], atol=1e-15)
    np.testing.assert_allclose(seq[0, 1], [0.23, -0.34], atol=1e-15)
    np.testing.assert_allclose(seq, loop(X, np.zeros((1, 2)), activation=lambda v: v), atol=1e-15)


@pytest.mark.parametrize("name, fn", [
    ("relu", lambda v: np.maximum(v, 0)),
    ("sigmoid", lambda v: 1 / (1 + np.exp(-v))),
    ("linear", lambda v: v),
    ("softsign", lambda v: v / (1 + np.abs(v))),
])
def test_other_activations(name, fn):
    seq = layer(activation=name, return_sequences=True)(X * 3)
    np.testing.assert_allclose(seq, loop(X * 3, np.zeros((1, 2)), activation=fn), rtol=1e-13, atol=1e-15)


def test_use_bias_false():
    rnn = layer(use_bias=False, return_sequences=True)
    assert len(rnn.get_weights()) == 2
    seq = rnn(X)
    # x_0 K = [0.7, 0.4]
    np.testing.assert_allclose(seq[0, 0], np.tanh([0.7, 0.4]), atol=1e-15)
    np.testing.assert_allclose(seq, loop(X, np.zeros((1, 2)), bias=0.0), atol=1e-15)


# --------------------------------------------------------------------------- masks

def test_masked_step_emits_previous_output_and_keeps_state():
    mask = np.array([[True, False, True]])
    out, state = layer(return_sequences=True, return_state=True)(X, mask=mask)
    h1 = np.tanh(X[:, 0] @ K + B)
    h3 = np.tanh(X[:, 2] @ K + h1 @ U + B)  # step 2 continues from h1: the masked step kept the state
    np.testing.assert_allclose(out[:, 0], h1, atol=1e-15)
    np.testing.assert_allclose(out[:, 1], h1, atol=1e-15)
    np.testing.assert_allclose(out[:, 2], h3, atol=1e-15)
    np.testing.assert_allclose(state, h3, atol=1e-15)


def test_trailing_masked_steps_keep_last_output_and_state():
    mask = np.array([[True, True, False]])
    out, state = layer(return_state=True)(X, mask=mask)
    h2 = loop(X[:, :2], np.zeros((1, 2)))[:, -1]
    np.testing.assert_allclose(out, h2, atol=1e-15)
    np.testing.assert_allclose(state, h2, atol=1e-15)


def test_masked_steps_before_first_unmasked_emit_zeros():
    h0 = np.array([[0.5, -0.5]])
    mask = np.array([[False, True, True]])
    out, state = layer(return_sequences=True, return_state=True)(X, mask=mask, initial_state=[h0])
    np.testing.assert_array_equal(out[:, 0], np.zeros((1, 2)))
    # the state is the initial state until the first unmasked step
    h1 = np.tanh(X[:, 1] @ K + h0 @ U + B)
    h2 = np.tanh(X[:, 2] @ K + h1 @ U + B)
    np.testing.assert_allclose(out[:, 1], h1, atol=1e-15)
    np.testing.assert_allclose(out[:, 2], h2, atol=1e-15)
    np.testing.assert_allclose(state, h2, atol=1e-15)


def test_masked_output_before_first_step_variant_initial_state():
    class Variant(SimpleRNN):
        masked_output_before_first_step = "initial_state"

    h0 = np.array([[0.5, -0.5]])
    rnn = Variant(2, return_sequences=True)
    rnn.build((1, 3, 2))
    rnn.set_weights([K, U, B])
    out = rnn(X, mask=np.array([[False, True, True]]), initial_state=[h0])
    np.testing.assert_allclose(out[:, 0], h0, atol=0)


def test_all_masked_returns_zeros_and_initial_state():
    h0 = np.array([[0.5, -0.5]])
    out, state = layer(return_state=True)(X, mask=np.zeros((1, 3), bool), initial_state=[h0])
    np.testing.assert_array_equal(out, np.zeros((1, 2)))
    np.testing.assert_array_equal(state, h0)


def test_mask_per_sample():
    x = np.concatenate([X, X[:, ::-1]], axis=0)
    mask = np.array([[True, True, True], [True, False, False]])
    out = layer()(x, mask=mask)
    np.testing.assert_allclose(out[0], loop(X, np.zeros((1, 2)))[0, -1], atol=1e-15)
    np.testing.assert_allclose(out[1], np.tanh(X[0, 2] @ K + B), atol=1e-15)


def test_wrong_mask_shape_raises():
    with pytest.raises(ValueError):
        layer()(X, mask=np.ones((1, 4), bool))


# --------------------------------------------------------------------------- go_backwards

def test_go_backwards_processes_reversed_and_returns_processing_order():
    seq, state = layer(go_backwards=True, return_sequences=True, return_state=True)(X)
    expected = loop(X[:, ::-1], np.zeros((1, 2)))   # processing order: x_2, x_1, x_0
    np.testing.assert_allclose(seq, expected, atol=1e-15)
    np.testing.assert_allclose(seq[:, 0], np.tanh(X[:, 2] @ K + B), atol=1e-15)
    np.testing.assert_allclose(state, expected[:, -1], atol=1e-15)
    last = layer(go_backwards=True)(X)
    np.testing.assert_allclose(last, expected[:, -1], atol=1e-15)


def test_go_backwards_with_mask_uses_the_mask_of_each_original_step():
    mask = np.array([[True, True, False]])   # x_2 masked: processed first, so it emits zeros
    seq = layer(go_backwards=True, return_sequences=True)(X, mask=mask)
    np.testing.assert_array_equal(seq[:, 0], np.zeros((1, 2)))
    h1 = np.tanh(X[:, 1] @ K + B)
    h0 = np.tanh(X[:, 0] @ K + h1 @ U + B)
    np.testing.assert_allclose(seq[:, 1], h1, atol=1e-15)
    np.testing.assert_allclose(seq[:, 2], h0, atol=1e-15)


# --------------------------------------------------------------------------- state

def test_return_state_returns_output_and_final_state():
    result = layer(return_state=True)(X)
    assert isinstance(result, list) and len(result) == 2
    out, state = result
    np.testing.assert_allclose(out, state, atol=0)
    np.testing.assert_allclose(state, loop(X, np.zeros((1, 2)))[:, -1], atol=1e-15)
    seq, state = layer(return_state=True, return_sequences=True)(X)
    assert seq.shape == (1, 3, 2) and state.shape == (1, 2)
    assert not isinstance(layer()(X), list)


def test_initial_state_is_h0():
    h0 = np.array([[0.3, -0.7]])
    seq = layer(return_sequences=True)(X, initial_state=[h0])
    np.testing.assert_allclose(seq[:, 0], np.tanh(X[:, 0] @ K + h0 @ U + B), atol=1e-15)
    np.testing.assert_allclose(seq, loop(X, h0), atol=1e-15)


@pytest.mark.parametrize("states", [[np.zeros((1, 3))], [np.zeros((2, 2))], [np.zeros((1, 2))] * 2])
def test_bad_initial_state_raises(states):
    with pytest.raises(ValueError):
        layer()(X, initial_state=states)


def test_initial_state_variants_broadcast_and_first_used():
    """The implementation-defined choices: a (units,) state broadcast over the batch, and
    extra states ignored; by default both are refused."""
    h = np.array([0.3, -0.7])
    x2 = np.concatenate([X, X[:, ::-1]])

    class Broadcast(SimpleRNN):
        initial_state_without_batch = "broadcast"

    class FirstUsed(SimpleRNN):
        extra_initial_states = "first_used"

    for cls, states, h0 in ((Broadcast, [h], np.stack([h, h])),
                            (FirstUsed, [np.stack([h, -h]), np.ones((2, 2))], np.stack([h, -h]))):
        rnn = cls(2, return_sequences=True)
        rnn.build((2, 3, 2))
        rnn.set_weights([K, U, B])
        np.testing.assert_allclose(rnn(x2, initial_state=states), loop(x2, h0), atol=1e-15)
        with pytest.raises(ValueError):
            layer()(X, initial_state=states)


def test_stateful_initial_state_variant_stored_state_wins():
    """tf_keras: an explicit initial_state is used only while the stored state is all zeros."""
    class StoredWins(SimpleRNN):
        stateful_initial_state = "stored_state_wins"

    h = np.array([[0.25, 0.5]])
    rnn = StoredWins(2, stateful=True, return_sequences=True)
    rnn.build((1, 3, 2))
    rnn.set_weights([K, U, B])
    first = rnn(X, initial_state=[h])                      # stored state is zero: h is used
    np.testing.assert_allclose(first, loop(X, h), atol=1e-15)
    second = rnn(X, initial_state=[h])                     # stored state wins
    np.testing.assert_allclose(second, loop(X, first[:, -1]), atol=1e-15)
    used = layer(stateful=True, return_sequences=True)     # the default: the given state is used
    used(X)
    np.testing.assert_allclose(used(X, initial_state=[h]), loop(X, h), atol=1e-15)


def test_stateful_carries_state_between_calls():
    rnn = layer(stateful=True, return_sequences=True)
    first = rnn(X)
    second = rnn(X)
    np.testing.assert_allclose(first, loop(X, np.zeros((1, 2))), atol=1e-15)
    np.testing.assert_allclose(second, loop(X, first[:, -1]), atol=1e-15)
    np.testing.assert_allclose(rnn.states[0], second[:, -1], atol=0)
    # a non-stateful layer starts from zeros each call
    plain = layer(return_sequences=True)
    np.testing.assert_allclose(plain(X), plain(X), atol=0)


def test_reset_states_returns_to_zeros_and_to_given_values():
    rnn = layer(stateful=True)
    rnn(X)
    rnn.reset_states()
    np.testing.assert_array_equal(rnn.states[0], np.zeros((1, 2)))
    np.testing.assert_allclose(rnn(X), loop(X, np.zeros((1, 2)))[:, -1], atol=1e-15)
    h = np.array([[0.25, 0.5]])
    rnn.reset_states([h])
    np.testing.assert_array_equal(rnn.states[0], h)
    np.testing.assert_allclose(rnn(X), loop(X, h)[:, -1], atol=1e-15)
    with pytest.raises(ValueError):
        rnn.reset_states([np.zeros((1, 3))])


def test_reset_states_needs_a_stateful_layer():
    with pytest.raises(AttributeError):
        layer().reset_states()


def test_stateful_refuses_another_batch_size():
    rnn = layer(stateful=True)
    with pytest.raises(ValueError):
        rnn(np.concatenate([X, X]))


def test_stateful_needs_static_batch():
    with pytest.raises(ValueError):
        SimpleRNN(2, stateful=True).build((None, 3, 2))


# --------------------------------------------------------------------------- weights

def test_set_and_get_weights_round_trip():
    rnn = layer()
    weights = rnn.get_weights()
    assert [w.shape for w in weights] == [(2, 2), (2, 2), (2,)]
    for got, want in zip(weights, [K, U, B]):
        np.testing.assert_array_equal(got, want)
    weights[0][0, 0] = 99.0  # a copy
    assert rnn.get_weights()[0][0, 0] == 0.5


@pytest.mark.parametrize("use_bias, count", [(True, 2), (True, 4), (False, 3), (False, 1), (True, 0)])
def test_set_weights_wrong_count_raises(use_bias, count):
    rnn = SimpleRNN(3, use_bias=use_bias)
    rnn.build((2, 5, 4))
    before = rnn.get_weights()
    with pytest.raises(ValueError):
        rnn.set_weights([np.zeros((4, 3))] * count)
    for a, b in zip(before, rnn.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("which, shape", [(0, (3, 4)), (0, (4, 3, 1)), (1, (3, 4)), (1, (3,)), (2, (4,)), (2, (1, 3))])
def test_set_weights_each_wrong_shape_raises(which, shape):
    rnn = SimpleRNN(3)
    rnn.build((2, 5, 4))
    weights = [np.ones((4, 3)), np.ones((3, 3)), np.ones(3)]
    weights[which] = np.ones(shape)
    before = rnn.get_weights()
    with pytest.raises(ValueError):
        rnn.set_weights(weights)
    for a, b in zip(before, rnn.get_weights()):  # nothing was half-assigned
        np.testing.assert_array_equal(a, b)


def test_count_params():
    rnn = SimpleRNN(3)
    with pytest.raises(ValueError):
        rnn.count_params()
    rnn.build((2, 5, 4))
    assert rnn.count_params() == 24          # 4*3 + 3*3 + 3
    nobias = SimpleRNN(3, use_bias=False)
    nobias.build((None, 5, 4))
    assert nobias.count_params() == 21       # 4*3 + 3*3


def test_build_shapes_and_initializers():
    rnn = SimpleRNN(3, kernel_initializer="ones", recurrent_initializer="identity",
                    bias_initializer={"class_name": "Constant", "config": {"value": 0.5}})
    rnn.build((2, 5, 4))
    k, u, b = rnn.get_weights()
    np.testing.assert_array_equal(k, np.ones((4, 3)))
    np.testing.assert_array_equal(u, np.eye(3))
    np.testing.assert_array_equal(b, np.full(3, 0.5))
    q = SimpleRNN(4)
    q.build((1, 2, 3))
    u = q.get_weights()[1]
    np.testing.assert_allclose(u @ u.T, np.eye(4), atol=1e-12)   # orthogonal by default
    assert not q.get_weights()[2].any()                          # zero bias by default


def test_call_builds_and_checks_features():
    rnn = SimpleRNN(2)
    rnn(X)
    assert rnn.built and rnn.get_weights()[0].shape == (2, 2)
    with pytest.raises(ValueError):
        rnn(np.ones((1, 3, 5)))
    with pytest.raises(ValueError):
        SimpleRNN(2)(np.ones((3, 2)))


# --------------------------------------------------------------------------- config

def test_get_config_from_config_round_trip():
    rnn = layer(activation="relu", go_backwards=True, return_sequences=True,
                kernel_regularizer={"class_name": "L2", "config": {"l2": 0.1}},
                recurrent_constraint="non_neg", dropout=0.25, name="my_rnn")
    config = rnn.get_config()
    assert config["units"] == 2 and config["activation"] == "relu"
    assert config["go_backwards"] is True and config["return_sequences"] is True
    assert config["dropout"] == 0.25 and config["name"] == "my_rnn"
    assert config["kernel_regularizer"] == {"class_name": "L2", "config": {"l2": 0.1}}
    assert config["recurrent_constraint"] == {"class_name": "NonNeg", "config": {}}
    assert config["kernel_initializer"]["class_name"] == "GlorotUniform"
    assert config["recurrent_initializer"]["class_name"] == "Orthogonal"
    assert config["bias_initializer"] == {"class_name": "Zeros", "config": {}}
    clone = SimpleRNN.from_config(config)
    assert clone.get_config() == config
    clone.build((1, 3, 2))
    clone.set_weights(rnn.get_weights())
    np.testing.assert_array_equal(clone(X), rnn(X))


def test_get_config_activation_none_is_linear():
    assert SimpleRNN(2, activation=None).get_config()["activation"] == "linear"
    assert SimpleRNN(2).get_config()["activation"] == "tanh"


def test_compute_output_shape():
    assert tuple(SimpleRNN(3).compute_output_shape((None, 5, 4))) == (None, 3)
    assert tuple(SimpleRNN(3, return_sequences=True).compute_output_shape((2, 5, 4))) == (2, 5, 3)
    shapes = SimpleRNN(3, return_state=True).compute_output_shape((2, 5, 4))
    assert [tuple(s) for s in shapes] == [(2, 3), (2, 3)]
    shapes = SimpleRNN(3, return_state=True, return_sequences=True).compute_output_shape((2, None, 4))
    assert [tuple(s) for s in shapes] == [(2, None, 3), (2, 3)]


def test_compute_mask():
    mask = np.array([[True, False, True]])
    assert SimpleRNN(2).compute_mask(X, mask) is None
    np.testing.assert_array_equal(SimpleRNN(2, return_sequences=True).compute_mask(X, mask), mask)
    out = SimpleRNN(2, return_sequences=True, return_state=True).compute_mask(X, mask)
    assert len(out) == 2 and out[1] is None
    np.testing.assert_array_equal(out[0], mask)
    assert SimpleRNN(2, return_state=True).compute_mask(X, mask) == [None, None]
    assert SimpleRNN(2, return_sequences=True).compute_mask(X, None) is None


# --------------------------------------------------------------------------- regularizers

def test_weight_regularizer_losses():
    rnn = layer(kernel_regularizer={"class_name": "L2", "config": {"l2": 0.1}},
                recurrent_regularizer={"class_name": "L1", "config": {"l1": 0.5}},
                bias_regularizer={"class_name": "L1L2", "config": {"l1": 0.2, "l2": 0.3}})
    losses = sorted(rnn.losses)
    k = 0.1 * (0.25 + 0.04 + 0.01 + 0.09)     # 0.1 * sum(K**2) = 0.039
    u = 0.5 * (0.4 + 0.0 + 0.3 + 0.2)         # 0.5 * sum(|U|) = 0.45
    b = 0.2 * 0.2 + 0.3 * 0.02                # 0.046
    np.testing.assert_allclose(losses, sorted([k, u, b]), rtol=1e-12)
    assert layer().losses == []


def test_regularizer_short_names_use_keras_defaults():
    rnn = layer(kernel_regularizer="l2")
    np.testing.assert_allclose(rnn.losses, [0.01 * np.sum(K ** 2)], rtol=1e-12)


def test_activity_regularizer_divided_by_batch_on_each_returned_tensor():
    x = np.concatenate([X, 2 * X, -X, 0.5 * X])   # batch 4
    rnn = SimpleRNN(2, activity_regularizer={"class_name": "L1", "config": {"l1": 0.1}})
    rnn.build(x.shape)
    rnn.set_weights([K, U, B])
    assert rnn.losses == []
    out = rnn(x)
    h = loop(x, np.zeros((4, 2)))[:, -1]
    np.testing.assert_allclose(rnn.losses, [0.1 * np.abs(h).sum() / 4], rtol=1e-12)

    both = SimpleRNN(2, return_sequences=True, return_state=True,
                     activity_regularizer={"class_name": "L2", "config": {"l2": 0.2}})
    both.build(x.shape)
    both.set_weights([K, U, B])
    seq, state = both(x)
    full = loop(x, np.zeros((4, 2)))
    np.testing.assert_allclose(sorted(both.losses),
                               sorted([0.2 * np.sum(full ** 2) / 4, 0.2 * np.sum(full[:, -1] ** 2) / 4]),
                               rtol=1e-12)
    # the activity penalty is the one of the last call only
    both(x[:2])
    assert len(both.losses) == 2
    np.testing.assert_allclose(sorted(both.losses),
                               sorted([0.2 * np.sum(full[:2] ** 2) / 2, 0.2 * np.sum(full[:2, -1] ** 2) / 2]),
                               rtol=1e-12)
    del out, seq, state


def test_constraints_project_weights():
    rnn = layer(kernel_constraint="non_neg", bias_constraint={"class_name": "MaxNorm", "config": {"max_value": 0.05}})
    rnn.apply_constraints()
    k, u, b = rnn.get_weights()
    np.testing.assert_array_equal(k, np.maximum(K, 0))
    np.testing.assert_array_equal(u, U)
    np.testing.assert_allclose(b, B * 0.05 / np.linalg.norm(B), rtol=1e-6)


# --------------------------------------------------------------------------- dropout

def _identity_layer(units=8, **kwargs):
    rnn = SimpleRNN(units, activation=None, use_bias=False, return_sequences=True, **kwargs)
    rnn.build((4, 6, units))
    rnn.set_weights([np.eye(units), np.zeros((units, units))])
    return rnn


def test_dropout_one_mask_per_call_scaled():
    rnn = _identity_layer(dropout=0.5, seed=1)
    x = np.ones((4, 6, 8))
    seq = rnn(x, training=True)   # h_t = (x_t * mask) I: the mask itself, at each step
    assert set(np.unique(seq)) <= {0.0, 2.0}                     # kept units scaled by 1/(1-0.5)
    assert (seq == 0).any() and (seq == 2).any()
    np.testing.assert_array_equal(seq, np.repeat(seq[:, :1], 6, axis=1))   # the same mask at every step
    again = rnn(x, training=True)
    assert not np.array_equal(again, seq)                        # a new mask for a new call

    quarter = _identity_layer(dropout=0.25, seed=2)(x, training=True)
    assert set(np.round(np.unique(quarter), 12)) <= {0.0, round(1 / 0.75, 12)}


def test_dropout_seed_reproducible():
    x = np.ones((4, 6, 8))
    a = _identity_layer(dropout=0.5, seed=7)(x, training=True)
    b = _identity_layer(dropout=0.5, seed=7)(x, training=True)
    c = _identity_layer(dropout=0.5, seed=8)(x, training=True)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("training", [None, False])
def test_dropout_no_effect_without_training(training):
    x = np.arange(4 * 6 * 8, dtype=float).reshape(4, 6, 8) / 100
    rnn = _identity_layer(dropout=0.5, recurrent_dropout=0.5, seed=3)
    np.testing.assert_array_equal(rnn(x, training=training), x)


def test_recurrent_dropout_one_mask_per_call():
    units = 8
    rnn = SimpleRNN(units, activation=None, use_bias=False, return_sequences=True, recurrent_dropout=0.5, seed=4)
    rnn.build((4, 3, units))
    rnn.set_weights([np.eye(units), np.eye(units)])
    x = np.zeros((4, 3, units))
    x[:, 0] = 1.0
    seq = rnn(x, training=True)
    # h_0 = x_0 = 1;  h_1 = (h_0 * m) = m;  h_2 = (h_1 * m) = m * m  (the same m)
    np.testing.assert_array_equal(seq[:, 0], np.ones((4, units)))
    m = seq[:, 1]
    assert set(np.unique(m)) <= {0.0, 2.0} and (m == 0).any() and (m == 2).any()
    np.testing.assert_array_equal(seq[:, 2], m * m)


# --------------------------------------------------------------------------- construction

@pytest.mark.parametrize("kwargs", [{"units": "3"}, {"units": True}, {"units": None}])
def test_units_that_are_not_numbers_raise_type_error(kwargs):
    # Observed on every Keras: '<=' not supported between instances of 'str' and 'int'.
    with pytest.raises(TypeError):
        SimpleRNN(**kwargs)


@pytest.mark.parametrize("kwargs", [
    {"units": 0}, {"units": -1}, {"units": 1.5},
    {"units": 2, "activation": "no_such_activation"},
    {"units": 2, "kernel_initializer": "no_such_initializer"},
    {"units": 2, "recurrent_initializer": {"class_name": "Nope", "config": {}}},
    {"units": 2, "kernel_regularizer": "l3"},
    {"units": 2, "bias_constraint": "no_such_constraint"},
    {"units": 2, "dtype": "int8"},
    {"units": 2, "no_such_argument": 1},
])
def test_invalid_constructor_values_raise_value_error(kwargs):
    with pytest.raises(ValueError):
        SimpleRNN(**kwargs)


def test_valid_constructor_defaults():
    rnn = SimpleRNN(5)
    config = rnn.get_config()
    assert config["units"] == 5 and config["activation"] == "tanh" and config["use_bias"] is True
    for flag in ("return_sequences", "return_state", "go_backwards", "stateful", "unroll"):
        assert config[flag] is False
    assert config["dropout"] == 0.0 and config["recurrent_dropout"] == 0.0
    assert SimpleRNN(np.int64(2)).units == 2


def test_unroll_is_kept_and_an_unrolled_path_that_differs_is_told_apart():
    """The reference has one code path: unroll=True must give what unroll=False gives ("Unrolling
    can speed-up a RNN"), so there is nothing of the reference to compare. What can fail is the
    claim the cases make of an implementation: unroll is kept in the config, and an unrolled
    path that forgets the mask or go_backwards (the mutants unroll_ignores_*) gives other values."""
    from conformance.targets.mutants import MUTANTS

    assert layer(unroll=True).get_config()["unroll"] is True and layer().get_config()["unroll"] is False
    mask = np.array([[True, False, True]])
    for name, kwargs in (("unroll_ignores_mask", {}), ("unroll_ignores_go_backwards", {"go_backwards": True})):
        bug = MUTANTS[name].layer_class(units=2, unroll=True, return_sequences=True, **kwargs)
        bug.build((1, 3, 2))
        bug.set_weights([K, U, B])
        right = layer(unroll=True, return_sequences=True, **kwargs)(X, mask=mask)
        assert not np.allclose(bug(X, mask=mask), right), name
        plain = MUTANTS[name].layer_class(units=2, unroll=False, return_sequences=True, **kwargs)
        plain.build((1, 3, 2))
        plain.set_weights([K, U, B])
        np.testing.assert_allclose(plain(X, mask=mask), right)  # only the unrolled path is wrong
