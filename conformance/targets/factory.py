"""Any implementation with the Keras layer surface: `package.module:factory` or `file.py:factory`.

`factory(**layer_config)` returns the layer; its outputs go through `numpy.asarray`.
"""

import importlib
import importlib.util
import sys
from pathlib import Path

from ..adapter import KerasSurfaceAdapter


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


def make_adapter(argument):
    factory = load_factory(argument)
    adapter = KerasSurfaceAdapter(factory, name=argument)
    adapter.versions = lambda: {"module": argument.rsplit(":", 1)[0]}
    return adapter
