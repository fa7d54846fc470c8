"""Any implementation with the Keras layer surface: `package.module:factory` or `file.py:factory`.

`factory(**layer_config)` returns the layer; its outputs go through `numpy.asarray`.
"""

import importlib
import importlib.util
import sys
from pathlib import Path

from conformance.targets.base import KerasSurfaceAdapter, Unsupported


def load_factory(argument):
    module_name, attribute = argument.rsplit(":", 1)
    if module_name.endswith(".py"):
        path = Path(module_name)
        spec = importlib.util.spec_from_file_location(f"conformance_target_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        sys.path.insert(0, str(path.parent))
        spec.loader.exec_module(module)
    else:
        module = importlib.import_module(module_name)
    factory = module
    for part in attribute.split("."):
        factory = getattr(factory, part)
    return factory


class FactoryAdapter(KerasSurfaceAdapter):
    """A third-party layer. It declares a feature it lacks by raising NotImplementedError,
    which the suite records as `unsupported` (any other exception is an `error`)."""

    def __init__(self, argument):
        super().__init__(load_factory(argument), name=argument)
        self.argument = argument

    def versions(self):
        return {"module": self.argument.rsplit(":", 1)[0]}


def _declaring_unsupported(method):
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except NotImplementedError as exc:
            raise Unsupported(f"{method.__name__}: {exc}" if str(exc) else method.__name__) from None
    wrapper.__name__ = method.__name__
    return wrapper


for _op in ("create", "build", "call", "get_weights", "set_weights", "reset_states", "count_params",
            "compute_output_shape", "compute_mask", "get_config", "from_config", "losses",
            "get_property", "apply_constraints", "gradients", "save_and_load", "connect", "call_method"):
    setattr(FactoryAdapter, _op, _declaring_unsupported(getattr(KerasSurfaceAdapter, _op)))


def make_adapter(argument):
    return FactoryAdapter(argument)
