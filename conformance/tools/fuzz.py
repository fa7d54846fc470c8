"""Differential fuzzing: Hypothesis draws scenarios, a target and the reference must agree.

`conformance fuzz --target T [--examples N] [--seed S] [--out DIR]`

A scenario is a valid layer configuration (units, activation, use_bias,
return_sequences, return_state, go_backwards, unroll, stateful), explicit
weights, and a sequence of one to three calls (inputs, including large values,
masks, initial states, also to a stateful layer under keras2 with tf_keras's
stored-state rule accepted; `reset_states` between the calls of a stateful
layer; dropout rates, with a seed under keras3, in inference mode, where they
must change nothing), followed by a few observations of the layer's surface. Each scenario becomes
an ordinary `Case` and runs on the target through the worker machinery
(`TargetSession.run_case`), so the very `judge()` of a suite run decides,
with the reference's documented implementation-defined variants accepted
(`any_of`, e.g. `masked_output_before_first_step`).

A disagreement is shrunk by Hypothesis to a minimal scenario and written as a
ready case file, DIR/<target>-seed<S>.yaml (default DIR: cases/found/ in a checkout
of the suite, ./found-cases for an installed one), that
names the target that failed and the seed that replays it. Values are drawn
on coarse grids (multiples of 1/8 for weights, 1/4 for inputs and states), so
a shrunk case is short to read and its first step is exact in float32.

The run is reproducible: Hypothesis is seeded with S, keeps no example
database and has no deadline.
"""

import re
import time
from pathlib import Path

import numpy as np

from conformance.catalog.cases import Case, load_cases
from conformance.catalog.paths import FOUND_CASES_DIR

DEFAULT_OUT = FOUND_CASES_DIR  # the checkout's cases/found, or ./found-cases for an installed suite
from conformance.report.record import FAILING
from conformance.run.runner import DEFAULT_TIMEOUT

ACTIVATIONS = ("tanh", "relu", "sigmoid", "linear", None, "hard_sigmoid")
KERAS2_ACTIVATIONS = ("tanh", "relu", "sigmoid", "linear", None)  # tf_keras's hard_sigmoid is another function
OBSERVATIONS = ("get_weights", "count_params", "compute_output_shape", "get_config")

VARIANTS = [
    {"variant": "zeros",
     "description": "masked steps before the first unmasked step emit zeros (TensorFlow, torch, tf_keras)"},
    {"variant": "initial_state",
     "description": "masked steps before the first unmasked step emit the initial state (Keras 3 JAX and NumPy, unroll=False)",
     "reference": {"masked_output_before_first_step": "initial_state"}},
]
# keras2: an explicit initial_state given to a stateful layer (the stored-state rule of tf_keras).
STATE_VARIANTS = [
    {"variant": "used", "description": "the given initial state is used"},
    {"variant": "stored_state_wins", "description": "the stored, non-zero state is used and the given one ignored (tf_keras)",
     "reference": {"stateful_initial_state": "stored_state_wins"}},
]


def _combined(*choices):
    """The variants of a step where several implementation-defined choices apply: every combination."""
    combined = [{"variant": "", "description": "", "reference": {}}]
    for options in choices:
        combined = [{"variant": "+".join(filter(None, (a["variant"], b["variant"]))),
                     "description": "; ".join(filter(None, (a["description"], b["description"]))),
                     "reference": {**a["reference"], **b.get("reference", {})}} for a in combined for b in options]
    return [{k: v for k, v in c.items() if k != "reference" or v} for c in combined]


# --------------------------------------------------------------------------- scenarios

def scenarios(profile="keras3"):
    """The Hypothesis strategy of scenarios (plain dicts of Python values and float32 arrays)."""
    from hypothesis import strategies as st

    @st.composite
    def grid(draw, shape, steps, step):
        """An array of `shape` whose entries are integers in [-steps, steps] times `step`."""
        count = int(np.prod(shape)) if shape else 1
        values = draw(st.lists(st.integers(-steps, steps), min_size=count, max_size=count))
        return (np.asarray(values, dtype=np.float64) * step).reshape(shape).astype(np.float32)

    @st.composite
    def scenario(draw):
        units = draw(st.integers(1, 4))
        features = draw(st.integers(1, 4))
        batch = draw(st.integers(1, 3))
        layer = {
            "units": units,
            "activation": draw(st.sampled_from(ACTIVATIONS if profile == "keras3" else KERAS2_ACTIVATIONS)),
            "use_bias": draw(st.booleans()),
            "return_sequences": draw(st.booleans()),
            "return_state": draw(st.booleans()),
            "go_backwards": draw(st.booleans()),
            "unroll": draw(st.booleans()),
            "stateful": draw(st.booleans()),
        }
        if draw(st.booleans()):  # dropout, inert in inference: the calls say training=False or nothing
            layer["dropout"] = draw(st.sampled_from([0.25, 0.5, 0.9]))
            layer["recurrent_dropout"] = draw(st.sampled_from([0.0, 0.25, 0.5]))
            if profile == "keras3":  # `seed` is a Keras 3 argument
                layer["seed"] = draw(st.integers(0, 2 ** 16))
        weights = {"kernel": draw(grid((features, units), 12, 0.125)),
                   "recurrent_kernel": draw(grid((units, units), 12, 0.125))}
        if layer["use_bias"]:
            weights["bias"] = draw(grid((units,), 12, 0.125))
        @st.composite
        def call(draw):
            timesteps = draw(st.integers(1, 5))
            # Large values: inputs up to 50 (tanh and sigmoid saturate, relu and linear grow).
            magnitude = draw(st.sampled_from([4, 16, 200]))
            drawn = {"inputs": draw(grid((batch, timesteps, features), magnitude, 0.25)),
                     "mask": None, "initial_state": None, "reset": False,
                     "training": draw(st.sampled_from([None, False])) if "dropout" in layer else None}
            if draw(st.booleans()):
                drawn["mask"] = np.asarray(draw(st.lists(st.booleans(), min_size=batch * timesteps,
                                                         max_size=batch * timesteps)), dtype=bool).reshape(batch, timesteps)
            # Under keras2, a stateful layer given an initial_state may keep its stored state
            # instead (tf_keras, when that is non-zero): both are accepted (STATE_VARIANTS).
            if draw(st.booleans()):
                drawn["initial_state"] = draw(grid((batch, units), 8, 0.25))
            if layer["stateful"]:
                drawn["reset"] = draw(st.booleans())
            return drawn

        calls = draw(st.lists(call(), min_size=1, max_size=3))
        calls[0]["reset"] = False  # nothing to reset before the first call
        observations = draw(st.lists(st.sampled_from(OBSERVATIONS), max_size=2, unique=True))
        return {"layer": layer, "weights": weights, "calls": calls, "observations": observations}

    return scenario()


def _listed(array):
    """An array as nested lists of plain Python numbers (exact for float32 grid values)."""
    if array.dtype == bool:
        return array.tolist()
    return [_listed_item(v) for v in array] if array.ndim else _number(array)


def _listed_item(v):
    return [_listed_item(w) for w in v] if np.ndim(v) else _number(v)


def _number(v):
    f = float(v)
    return int(f) if f.is_integer() and abs(f) < 2 ** 31 else f


def case_dict(scenario, case_id, description, profile="keras3", notes=""):
    """The scenario as a case mapping of the case format (what a case file holds)."""
    arrays, steps = {}, []
    weights = {}
    for name, value in scenario["weights"].items():
        arrays[name] = {"value": _listed(value), "shape": list(value.shape)}
        weights[name] = name
    for i, call in enumerate(scenario["calls"], start=1):
        if call["reset"]:
            steps.append({"reset_states": None})
        args = {"inputs": f"x{i}"}
        arrays[f"x{i}"] = {"value": _listed(call["inputs"]), "shape": list(call["inputs"].shape)}
        if call["mask"] is not None:
            arrays[f"m{i}"] = {"value": call["mask"].tolist(), "dtype": "bool"}
            args["mask"] = f"m{i}"
        if call["initial_state"] is not None:
            arrays[f"h{i}"] = {"value": _listed(call["initial_state"]), "shape": list(call["initial_state"].shape)}
            args["initial_state"] = [f"h{i}"]
        if call.get("training") is not None:
            args["training"] = call["training"]
        step = {"call": args}
        choices = []
        carried = call["initial_state"] is not None or (scenario["layer"]["stateful"] and i > 1 and not call["reset"])
        if call["mask"] is not None and carried and not call["mask"].all():
            # What a masked step emits before the first unmasked one is implementation-defined.
            choices.append(VARIANTS)
        given_before = any(c["initial_state"] is not None for c in scenario["calls"][:i])
        if profile == "keras2" and scenario["layer"]["stateful"] and given_before:
            choices.append(STATE_VARIANTS)  # from the first call given an initial state on
        if choices:
            step["expect"] = {"any_of": _combined(*choices)}
        steps.append(step)
    first_shape = list(scenario["calls"][0]["inputs"].shape)
    for op in scenario["observations"]:
        steps.append({op: {"input_shape": first_shape}} if op == "compute_output_shape" else {op: None})
    case = {
        "id": case_id,
        "description": description,
        "spec": [{"page": profile, "item": "call",
                  "observed": "differential fuzzing: the target must compute what the reference computes "
                              "(the recurrence of the page, the reference's documented variants accepted)"}],
        "tags": ["fuzz"],
        "profiles": [profile],
        "layer": dict(scenario["layer"]),
        "arrays": arrays,
        "weights": weights,
        "steps": steps,
    }
    if notes:
        case["notes"] = notes
    return case


def to_case(scenario, case_id="fuzz/example", profile="keras3"):
    """The scenario as a `Case` object, ready for TargetSession.run_case and judge()."""
    d = case_dict(scenario, case_id, "a fuzzed scenario", profile)
    return Case(id=d["id"], description=d["description"], spec=d["spec"], tags=d["tags"],
                profiles=d["profiles"], layer=d["layer"], steps=d["steps"], arrays=d["arrays"],
                weights=d["weights"], source="<fuzz>")


def _size_key(scenario):
    size = scenario_size(scenario)
    return (size["entries"], size["timesteps"], size["calls"], len(scenario["observations"]))


def scenario_size(scenario):
    """A rough size, for reports: calls, timesteps and entries of every array."""
    entries = sum(v.size for v in scenario["weights"].values())
    for call in scenario["calls"]:
        entries += call["inputs"].size + (0 if call["initial_state"] is None else call["initial_state"].size)
    return {"calls": len(scenario["calls"]), "timesteps": sum(c["inputs"].shape[1] for c in scenario["calls"]),
            "entries": int(entries)}


# --------------------------------------------------------------------------- the fuzz loop

class FuzzResult:
    def __init__(self, target, seed, examples):
        self.target, self.seed, self.examples = target, seed, examples
        self.runs = 0              # scenarios run on the target, shrinking included
        self.first = None          # (scenario, record) of the first disagreement
        self.minimal = None        # (scenario, record) of the smallest disagreement found
        self.path = None           # the case file written
        self.replay = {}           # {"target": status, "reference": status} of the written file
        self.seconds = 0.0
        self.note = ""

    @property
    def found(self):
        return self.minimal is not None


def fuzz(target, examples=100, seed=0, out=DEFAULT_OUT, timeout=DEFAULT_TIMEOUT, write=True, max_shrinks=300, profile=None,
         simplify_budget=200):
    """Fuzz one target; returns a FuzzResult (and writes the case file of a disagreement)."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hypothesis_seed

    from conformance.run.pipeline import Settings
    from conformance.targets import resolve

    spec = resolve(target, profile=profile)
    result = FuzzResult(target, seed, examples)
    session = Settings(timeout=timeout).check().session(spec)  # the pipeline's runner, one scenario at a time
    started = time.perf_counter()
    shrinks = {"left": max_shrinks}

    class Disagreement(AssertionError):
        pass

    @hypothesis_seed(seed)
    @settings(max_examples=examples, database=None, deadline=None, derandomize=False, print_blob=False,
              phases=(Phase.generate, Phase.shrink), report_multiple_bugs=False,
              suppress_health_check=list(HealthCheck))
    @given(scenarios(spec.profile))
    def check(scenario):
        if result.minimal is not None:
            # Shrinking: stop after a budget of runs (each one is a real call of the target);
            # a scenario that is not run counts as agreeing, so Hypothesis keeps the smallest so far.
            if shrinks["left"] <= 0:
                return
            shrinks["left"] -= 1
        result.runs += 1
        record = session.run_case(to_case(scenario, profile=spec.profile))
        if record.status in FAILING:
            if result.minimal is None or _size_key(scenario) <= _size_key(result.minimal[0]):
                result.minimal = (scenario, record)
            if result.first is None:
                result.first = (scenario, record)
            raise Disagreement(f"{record.status}: {record.verdict.get('message', '')}")

    try:
        try:
            check()
        except Exception as exc:  # noqa: BLE001 - Disagreement, or Flaky once the shrink budget is spent
            if result.minimal is None:
                raise
            if not isinstance(exc, AssertionError):
                result.note = f"shrinking stopped after {max_shrinks} runs"
        if result.found and simplify_budget:
            def still_fails(candidate):
                record = session.run_case(to_case(candidate, profile=spec.profile))
                return record if record.status in FAILING else None

            scenario, _ = result.minimal
            simpler, runs = simplify(scenario, still_fails, simplify_budget)
            result.runs += runs
            if simpler is not scenario:
                result.minimal = (simpler, still_fails(simpler))
    finally:
        session.close()
    result.seconds = time.perf_counter() - started
    if result.found and write:
        result.path = write_case_file(result, out, spec.profile)
        result.replay = replay(result.path, target)
    return result


def _candidates(scenario):
    """Simpler variants of a scenario, one change each: what `simplify` tries after Hypothesis."""
    import copy

    def variant(change):
        new = copy.deepcopy(scenario)
        change(new)
        new["calls"][0]["reset"] = False
        return new

    calls = scenario["calls"]
    for i in range(len(calls)):
        if len(calls) > 1:
            yield variant(lambda s, i=i: s["calls"].pop(i))
    if scenario["observations"]:
        yield variant(lambda s: s.__setitem__("observations", []))
    batch = calls[0]["inputs"].shape[0]
    for sample in range(batch if batch > 1 else 0):
        def one_sample(s, sample=sample):
            for c in s["calls"]:
                c["inputs"] = c["inputs"][sample:sample + 1]
                for key in ("mask", "initial_state"):
                    if c[key] is not None:
                        c[key] = c[key][sample:sample + 1]
        yield variant(one_sample)
    for i, c in enumerate(calls):
        if c["inputs"].shape[1] > 1:
            for cut in (slice(1, None), slice(None, -1)):
                def shorter(s, i=i, cut=cut):
                    s["calls"][i]["inputs"] = s["calls"][i]["inputs"][:, cut]
                    if s["calls"][i]["mask"] is not None:
                        s["calls"][i]["mask"] = s["calls"][i]["mask"][:, cut]
                yield variant(shorter)
        for key in ("mask", "initial_state", "reset"):
            if c[key] is not None and c[key] is not False:
                yield variant(lambda s, i=i, key=key: s["calls"][i].__setitem__(key, False if key == "reset" else None))
    for flag in ("return_sequences", "return_state", "go_backwards", "unroll", "stateful", "use_bias"):
        if scenario["layer"][flag]:
            def off(s, flag=flag):
                s["layer"][flag] = False
                if flag == "use_bias":
                    s["weights"].pop("bias", None)
                if flag == "stateful":
                    for c in s["calls"]:
                        c["reset"] = False
            yield variant(off)
    if scenario["layer"]["activation"] not in ("linear", None):
        yield variant(lambda s: s["layer"].__setitem__("activation", "linear"))


def simplify(scenario, still_fails, budget=200):
    """Greedy one-change-at-a-time simplification of a failing scenario (after Hypothesis's
    shrinking, which does not remove whole calls or layer options as readily)."""
    runs = 0
    changed = True
    while changed and runs < budget:
        changed = False
        for candidate in _candidates(scenario):
            if runs >= budget:
                break
            runs += 1
            found = still_fails(candidate)
            if found is not None:
                scenario, changed = candidate, True
                break
    return scenario, runs


def file_stem(target, seed):
    return re.sub(r"[^a-z0-9_.-]+", "_", target.lower()).strip("_") + f"-seed{seed}"


def write_case_file(result, out, profile):
    """Write the minimal disagreement as DIR/<target>-seed<S>.yaml; returns its path."""
    import yaml

    scenario, record = result.minimal
    stem = file_stem(result.target, result.seed)
    message = record.verdict.get("message", "")
    where = f"step {record.verdict['step']} ({record.verdict.get('op')})" if "step" in record.verdict else "the case"
    description = (f"Found by `conformance fuzz --target {result.target} --seed {result.seed} --examples "
                   f"{result.examples}`: {result.target} disagrees with the reference at {where}.")
    notes = (f"target: {result.target}; seed: {result.seed}; examples: {result.examples}; "
             f"status on the target: {record.status}; message: {message}")
    case = case_dict(scenario, f"found/{stem}", description, profile, notes)
    document = {"description": f"A disagreement found by differential fuzzing (conformance fuzz). Target that "
                               f"failed: {result.target}. Replay: conformance fuzz --target {result.target} "
                               f"--seed {result.seed} --examples {result.examples}.",
                "cases": [case]}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{stem}.yaml"
    path.write_text(f"# target: {result.target}\n# seed: {result.seed}\n"
                    + yaml.safe_dump(document, sort_keys=False, width=110, default_flow_style=None),
                    encoding="utf-8")
    load_cases([path])  # the file must be a valid case file
    return path


def replay(path, target):
    """{"target": status, "reference": status} of the written case, run as any case file is
    (through the pipeline's `run_cases`)."""
    from conformance.run.pipeline import run_cases
    from conformance.targets import resolve

    statuses = {}
    (case,) = load_cases([path])
    for name in (target, "reference"):
        records, _ = run_cases(resolve(name), [case])
        statuses[name if name == "reference" else "target"] = records[0].status
    return statuses


# --------------------------------------------------------------------------- the command

def main(args):
    """Exit 0 when the target agrees with the reference on every scenario, 1 when a disagreement was found."""
    if args.examples < 1:
        raise ValueError("--examples must be at least 1")
    result = fuzz(args.target, examples=args.examples, seed=args.seed, out=args.out or DEFAULT_OUT, timeout=args.timeout,
                  max_shrinks=args.max_shrinks, profile=args.profile)
    if not result.found:
        print(f"{args.target}: no disagreement in {args.examples} scenarios (seed {args.seed}, "
              f"{result.runs} runs, {result.seconds:.1f} s)")
        return 0
    scenario, record = result.minimal
    size = scenario_size(scenario)
    first_size = scenario_size(result.first[0])
    print(f"{args.target}: disagreement found (seed {args.seed}, {result.runs} runs, {result.seconds:.1f} s); "
          f"shrunk from {first_size['calls']} calls / {first_size['timesteps']} steps / {first_size['entries']} values "
          f"to {size['calls']} / {size['timesteps']} / {size['entries']}" + (f" ({result.note})" if result.note else ""))
    print(f"  {record.status}: {record.verdict.get('message', '')[:400]}")
    print(f"  case file: {result.path} (replayed: {result.target} {result.replay.get('target')}, "
          f"reference {result.replay.get('reference')})")
    return 1
