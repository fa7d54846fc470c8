"""The gradient oracle proven: reference_impl/gradients.py against finite differences.

The expected values of every `gradients` step come from the reference's
backward pass (`reference_impl.gradients.gradients`). Here that backward pass
is checked against central finite differences of the float64 forward
reference (`SimpleRNN.__call__`) of the very same loss,
L = sum_k sum(returned_k * cos(0, 1, 2, ...)), with respect to the inputs, the
kernel, the recurrent kernel, the bias and the initial state:

- at every gradients step of every case of the catalog (masks,
  `go_backwards`, output forms, initial states, a float64 layer, 200 steps);
- for every activation the reference differentiates, with a ragged mask, a
  leading mask, go_backwards, both outputs returned and an initial state;
- for the implementation-defined choice "masked steps before the first kept
  one emit the initial state", and for a stateful layer's stored state.

And the check has teeth: each gradient mutant of the catalog
(conformance/targets/mutants.py, `backward` patches) must fail it.
"""

import copy
from dataclasses import dataclass

import numpy as np
import pytest

from conformance.catalog.cases import load_cases
from conformance.targets import mutants
from conformance.targets.base import loss_weights, output_shapes
from conformance.targets.reference import ReferenceAdapter
from conformance.targets.steps import run_steps
from reference_impl import SimpleRNN
from reference_impl.gradients import DERIVATIVES, gradients

EPS = 1e-6              # central differences in float64: truncation ~EPS**2, rounding ~1e-16 * |L| / EPS
RTOL, ATOL = 1e-6, 1e-6
ELEMENTS_CHECKED = 96   # a larger tensor is checked at this many elements plus along random directions
DIRECTIONS = 3


@dataclass
class Problem:
    """What one gradients step differentiates: the layer as it stands, and the step's arguments."""
    name: str
    layer: SimpleRNN
    inputs: np.ndarray
    mask: np.ndarray | None = None
    initial_state: list | None = None

    def loss(self, inputs=None, initial_state=None, **weights):
        """L at the given inputs / initial state / weights (the others as they are)."""
        layer = copy.copy(self.layer)  # the weights are replaced, never written into
        for name, value in weights.items():
            setattr(layer, name, value)
        h0 = self.initial_state if initial_state is None else [initial_state]
        with np.errstate(all="ignore"):
            returned = layer(self.inputs if inputs is None else inputs, mask=self.mask, initial_state=h0)
        returned = returned if isinstance(returned, list) else [returned]
        return float(sum(np.sum(r * loss_weights(r.shape)) for r in returned))

    def analytic(self, backprop=gradients):
        shapes = output_shapes(self.layer.compute_output_shape(self.inputs.shape))
        layer = copy.deepcopy(self.layer)
        return backprop(layer, self.inputs, [loss_weights(s) for s in shapes], self.mask, self.initial_state)

    def parameters(self):
        """{name: current value} of what the gradients are taken with respect to."""
        values = {"inputs": self.inputs, "kernel": self.layer.kernel, "recurrent_kernel": self.layer.recurrent_kernel}
        if self.layer.use_bias:
            values["bias"] = self.layer.bias
        if self.initial_state is not None:
            values["initial_state"] = np.asarray(self.initial_state[0], dtype=np.float64)
        return values


def _at(problem, name, value):
    return problem.loss(**{name: value})


def numeric(problem):
    """{name: (flat indices, derivatives there, directions, derivatives along them)} by central differences."""
    rng = np.random.default_rng(0)
    result = {}
    for name, value in problem.parameters().items():
        value = np.asarray(value, dtype=np.float64)
        size = value.size
        indices = np.arange(size) if size <= ELEMENTS_CHECKED else np.unique(np.concatenate(
            [[0, size - 1], rng.choice(size, ELEMENTS_CHECKED - 2, replace=False)]))
        along_elements = []
        for i in indices:
            step = np.zeros(size)
            step[i] = EPS
            step = step.reshape(value.shape)
            along_elements.append((_at(problem, name, value + step) - _at(problem, name, value - step)) / (2 * EPS))
        directions = [] if size <= ELEMENTS_CHECKED else [rng.standard_normal(value.shape) for _ in range(DIRECTIONS)]
        along_directions = [(_at(problem, name, value + EPS * d) - _at(problem, name, value - EPS * d)) / (2 * EPS)
                            for d in directions]
        result[name] = (indices, np.array(along_elements), directions, np.array(along_directions))
    return result


def mismatches(problem, numbers, backprop=gradients):
    """The parameters whose analytic gradient disagrees with the finite differences (with the worst error)."""
    analytic = problem.analytic(backprop)
    problems = []
    if set(analytic) != set(numbers):
        problems.append(f"gradients for {sorted(analytic)}, expected {sorted(numbers)}")
    for name, (indices, along_elements, directions, along_directions) in numbers.items():
        if name not in analytic:
            continue
        grad = np.asarray(analytic[name], dtype=np.float64)
        got = np.concatenate([grad.ravel()[indices], [np.sum(grad * d) for d in directions]])
        want = np.concatenate([along_elements, along_directions])
        error = np.abs(got - want)
        if not (np.isfinite(got).all() and (error <= ATOL + RTOL * np.abs(want)).all()):
            problems.append(f"{name}: off by up to {float(np.nanmax(error)):.3g}")
    return problems


# --------------------------------------------------------------------------- what is differentiated

class _Recorder(ReferenceAdapter):
    """The reference adapter, keeping at each gradients step a copy of what that step differentiates."""

    def __init__(self, layer_class=SimpleRNN, name="reference"):
        super().__init__(layer_class, name)
        self.problems = []

    def gradients(self, inputs, mask=None, initial_state=None):
        self.problems.append(Problem("", copy.deepcopy(self.layer), np.asarray(inputs, dtype=np.float64),
                                     None if mask is None else np.asarray(mask, dtype=bool),
                                     None if initial_state is None else [np.asarray(s, dtype=np.float64) for s in initial_state]))
        return super().gradients(inputs, mask, initial_state)


def catalog_problems():
    problems = []
    for case in load_cases():
        concrete = case.concrete()
        if not any(step["op"] == "gradients" for step in concrete["steps"]):
            continue
        recorder = _Recorder()
        with np.errstate(all="ignore"):
            run_steps(recorder, concrete)
        for i, problem in enumerate(recorder.problems):
            problem.name = case.id + (f"#{i}" if i else "")
            problems.append(problem)
    return problems


def _layer(layer_class=SimpleRNN, features=3, batch=3, seed=0, **config):
    layer = layer_class(units=4, **config)
    layer.build((batch, 6, features))
    rng = np.random.default_rng(seed)
    layer.set_weights([0.5 * rng.standard_normal(w.shape) for w in layer.get_weights()])
    return layer


def _inputs(seed=1, shape=(3, 6, 3)):
    return np.random.default_rng(seed).uniform(-1.5, 1.5, shape)


RAGGED = np.array([[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0], [1, 0, 1, 1, 0, 1]], dtype=bool)
LEADING = np.array([[0, 0, 1, 1, 1, 1], [0, 1, 1, 0, 1, 1], [1, 1, 1, 1, 1, 1]], dtype=bool)


def extra_problems():
    """Configurations past the catalog's: every activation, leading masks, an implementation-defined
    choice and a stateful layer's stored state."""
    h0 = [np.random.default_rng(2).uniform(-1, 1, (3, 4))]
    problems = []
    for activation in DERIVATIVES:
        for go_backwards in (False, True):
            for mask in (RAGGED, LEADING):
                layer = _layer(activation=activation, go_backwards=go_backwards, return_sequences=True, return_state=True)
                problems.append(Problem(f"{activation}, go_backwards={go_backwards}, mask {mask.sum()}",
                                        layer, _inputs(), mask, h0))
    emits_h0 = type("SimpleRNN_emits_initial_state", (SimpleRNN,), {"masked_output_before_first_step": "initial_state"})
    for return_sequences in (False, True):
        problems.append(Problem(f"masked steps emit the initial state, return_sequences={return_sequences}",
                                _layer(emits_h0, return_sequences=return_sequences), _inputs(), LEADING, h0))
    problems.append(Problem("no bias, relu, all kept", _layer(use_bias=False, activation="relu"), _inputs(), None, h0))
    stateful = _layer(stateful=True, return_sequences=True)
    stateful(_inputs(seed=5))  # a stored state to start from (it gets no gradient of its own)
    problems.append(Problem("stateful, stored state", stateful, _inputs(), RAGGED))
    return problems


@pytest.fixture(scope="module")
def checked():
    """[(problem, its finite differences)] for the catalog and the extra configurations."""
    return [(p, numeric(p)) for p in catalog_problems() + extra_problems()]


# --------------------------------------------------------------------------- the tests

def test_every_gradient_case_of_the_catalog_is_checked(checked):
    names = {p.name.split("#")[0] for p, _ in checked}
    gradient_cases = {c.id for c in load_cases() if any(s["op"] == "gradients" for s in c.concrete()["steps"])}
    assert gradient_cases and gradient_cases <= names
    # What the check reaches: every parameter, every mask/direction/initial-state combination, every activation.
    parameters = {name for _, numbers in checked for name in numbers}
    assert parameters == {"inputs", "kernel", "recurrent_kernel", "bias", "initial_state"}
    assert {p.layer._activation_name for p, _ in checked} == set(DERIVATIVES)
    assert {(p.mask is not None, p.layer.go_backwards, p.initial_state is not None) for p, _ in checked} == {
        (m, g, h) for m in (False, True) for g in (False, True) for h in (False, True)}


def test_the_backward_pass_equals_finite_differences(checked):
    wrong = {p.name: m for p, numbers in checked if (m := mismatches(p, numbers))}
    assert wrong == {}


GRADIENT_MUTANTS = [m for m in mutants.CATALOG if m.backward]


def test_there_are_gradient_mutants():
    assert len(GRADIENT_MUTANTS) >= 10


@pytest.mark.parametrize("mutant", GRADIENT_MUTANTS, ids=lambda m: m.name)
def test_the_check_fails_on_each_gradient_mutant(checked, mutant):
    """The finite-difference check catches the mutant on the catalog's own configurations."""
    caught = [p.name for p, numbers in checked if p.name.startswith("gradients/")
              and mismatches(p, numbers, mutant.backprop)]
    assert caught, f"no catalog configuration tells {mutant.name} from finite differences"


def test_a_wrong_derivative_is_caught(checked):
    """A backward pass one derivative off (sigmoid's y * (1 - y) read as y) fails where sigmoid is used."""
    def wrong(layer, *args):
        saved = DERIVATIVES["sigmoid"]
        DERIVATIVES["sigmoid"] = lambda z, y: y
        try:
            return gradients(layer, *args)
        finally:
            DERIVATIVES["sigmoid"] = saved

    caught = [p for p, numbers in checked if mismatches(p, numbers, wrong)]
    assert caught and {p.layer._activation_name for p in caught} == {"sigmoid"}
    assert any(p.name.startswith("strength/gradients_activations") for p in caught)  # the catalog has it too
