"""Expected outcomes: the reference plays a case's steps in this process, in float64.

For implementation-defined steps, a variant may name other choices of the
reference (`reference: {masked_output_before_first_step: initial_state}`);
the reference then plays the case once more with those choices.
"""

import numpy as np

from reference_impl import SimpleRNN

from conformance.targets.steps import run_steps
from conformance.targets.reference import ReferenceAdapter


def expected_outcome(case):
    """(observations, {variant name: observations}) for a concrete case."""
    # Cases with Inf and NaN inputs overflow on purpose: IEEE results, not warnings.
    with np.errstate(all="ignore"):
        return _expected_outcome(case)


def _expected_outcome(case):
    observations = run_steps(ReferenceAdapter(), case)
    variants = {}
    for step in case["steps"]:
        for option in (step.get("expect") or {}).get("any_of", []):
            choices = option.get("reference")
            if choices and option["variant"] not in variants:
                unknown = [k for k in choices if not hasattr(SimpleRNN, k)]
                if unknown:
                    raise ValueError(f"variant {option['variant']!r}: the reference has no choice named {unknown}")
                layer_class = type(f"SimpleRNN_{option['variant']}", (SimpleRNN,), dict(choices))
                variants[option["variant"]] = run_steps(ReferenceAdapter(layer_class), case)
    return observations, variants
