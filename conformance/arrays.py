"""Arrays in case files (explicit values or seeded generators) and on the wire.

A case names its arrays by spec; `materialize` turns a spec into a NumPy
array. Every generator is seeded, so a case always yields the same numbers.
On the wire (the worker protocol, fixtures) an array is
{"__ndarray__": {"dtype", "shape", "data"}} with `data` the base64 of its
little-endian bytes; dtypes NumPy lacks (bfloat16) travel as float32 values
with their own dtype name kept.
"""

import base64

import numpy as np

WIRE_DTYPES = {"bool", "int8", "int16", "int32", "int64", "uint8",
               "float16", "float32", "float64"}
MASK_PATTERNS = ("none_masked", "leading", "middle", "trailing", "all_masked", "ragged")


class ArraySpecError(ValueError):
    pass


def materialize(spec):
    """Turn an array spec (see the case schema) into a NumPy array; None stays None."""
    if spec is None:
        return None
    if not isinstance(spec, dict):
        raise ArraySpecError(f"an array spec must be a mapping, got {spec!r}")
    dtype = spec.get("dtype", "float32")
    if "value" in spec:
        values = spec["value"]
        array = np.array(values, dtype=np.float64 if dtype not in ("bool",) else bool)
        if "shape" in spec and list(array.shape) != list(spec["shape"]):
            array = array.reshape(spec["shape"])
    elif "random" in spec:
        rng = np.random.default_rng(spec.get("seed", 0))
        shape = tuple(spec["shape"])
        kind = spec["random"]
        if kind == "uniform":
            array = rng.uniform(spec.get("low", -1.0), spec.get("high", 1.0), size=shape)
        elif kind == "normal":
            array = rng.normal(spec.get("mean", 0.0), spec.get("std", 1.0), size=shape)
        else:
            raise ArraySpecError(f"unknown random distribution {kind!r}")
    elif "fill" in spec:
        array = np.full(tuple(spec["shape"]), spec["fill"], dtype=np.float64)
    elif "eye" in spec:
        array = np.eye(spec["eye"]) * spec.get("scale", 1.0)
    elif "mask" in spec:
        array = mask_pattern(spec["mask"], tuple(spec["shape"]))
        dtype = spec.get("dtype", "bool")
    elif "arange" in spec:
        shape = tuple(spec["shape"])
        array = np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape)
        array = array * spec.get("scale", 1.0) + spec.get("offset", 0.0)
    else:
        raise ArraySpecError(f"array spec {spec!r} has none of value/random/fill/eye/mask/arange")
    if "scale" in spec and "random" in spec:
        array = array * spec["scale"]
    return cast(array, dtype)


def cast(array, dtype):
    """Cast to a dtype named as Keras names it (bfloat16 rounds through float32)."""
    if dtype == "bfloat16":
        # Round to the nearest bfloat16 (8-bit mantissa) and keep the values in float32.
        bits = np.asarray(array, dtype=np.float32).view(np.uint32).astype(np.uint64)
        rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) << 16
        return rounded.astype(np.uint32).view(np.float32)
    return np.asarray(array, dtype=dtype)


def mask_pattern(pattern, shape):
    """A [batch, timesteps] boolean mask; True keeps a step (spec: "should be utilized")."""
    batch, steps = shape
    mask = np.ones(shape, dtype=bool)
    if pattern == "none_masked":
        pass
    elif pattern == "all_masked":
        mask[:] = False
    elif pattern == "leading":
        mask[:, : max(1, steps // 3)] = False
    elif pattern == "trailing":
        mask[:, steps - max(1, steps // 3):] = False
    elif pattern == "middle":
        lo = steps // 3
        mask[:, lo: max(lo + 1, steps - steps // 3)] = False
    elif pattern == "ragged":
        # Right-padded sequences of different lengths, one per sample: what packed sequences express.
        for i in range(batch):
            mask[i, steps - (i % steps):] = False
    else:
        raise ArraySpecError(f"unknown mask pattern {pattern!r}; known: {', '.join(MASK_PATTERNS)}")
    return mask


def dtype_name(array):
    name = str(np.asarray(array).dtype) if not hasattr(array, "dtype") else str(array.dtype)
    return name


def encode(array, dtype=None):
    """An array as a JSON-able dict; `dtype` overrides the name (e.g. bfloat16 sent as float32)."""
    array = np.asarray(array)
    name = dtype or str(array.dtype)
    if str(array.dtype) not in WIRE_DTYPES:
        array = array.astype(np.float32)
    data = np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<"), copy=False)
    return {"__ndarray__": {"dtype": name, "wire_dtype": str(array.dtype),
                            "shape": list(array.shape),
                            "data": base64.b64encode(data.tobytes()).decode("ascii")}}


def decode(obj):
    """Inverse of `encode`: returns (array, dtype name)."""
    spec = obj["__ndarray__"]
    wire = spec.get("wire_dtype", spec["dtype"])
    if wire not in WIRE_DTYPES:
        raise ArraySpecError(f"array travels with unsupported dtype {wire!r}")
    raw = base64.b64decode(spec["data"])
    array = np.frombuffer(raw, dtype=np.dtype(wire).newbyteorder("<")).reshape(spec["shape"])
    return array.astype(np.dtype(wire)), spec["dtype"]


def to_wire(tree):
    """Encode every ndarray in a tree of dicts and lists (tuples become lists)."""
    if isinstance(tree, np.ndarray):
        return encode(tree)
    if isinstance(tree, Observed):
        return encode(tree.array, tree.dtype)
    if isinstance(tree, dict):
        return {k: to_wire(v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return [to_wire(v) for v in tree]
    if isinstance(tree, np.generic):
        return tree.item()
    return tree


def from_wire(tree, observed=False):
    """Decode a tree; with observed=True arrays become `Observed` (keeping their dtype name)."""
    if isinstance(tree, dict):
        if "__ndarray__" in tree:
            array, name = decode(tree)
            return Observed(array, name) if observed else array
        return {k: from_wire(v, observed) for k, v in tree.items()}
    if isinstance(tree, list):
        return [from_wire(v, observed) for v in tree]
    return tree


class Observed:
    """An array as a target returned it: values plus the dtype name the target reported."""

    __slots__ = ("array", "dtype")

    def __init__(self, array, dtype=None):
        self.array = np.asarray(array)
        self.dtype = dtype or str(self.array.dtype)

    @property
    def shape(self):
        return list(self.array.shape)

    def __repr__(self):
        return f"Observed(shape={self.shape}, dtype={self.dtype})"
