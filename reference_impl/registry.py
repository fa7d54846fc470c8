"""Looking up initializers, regularizers and constraints the way Keras's `get` does."""


def lookup(kind, identifier, classes, short_names):
    """An object from a short name ("l2") or a serialized {"class_name": "L2", "config": {...}}."""
    if isinstance(identifier, str) and identifier in short_names:
        return classes[short_names[identifier]]()
    if isinstance(identifier, dict) and identifier.get("class_name") in classes:
        return classes[identifier["class_name"]](**identifier.get("config", {}))
    raise ValueError(f"Unknown {kind}: {identifier!r}")


def serialize(obj):
    """{"class_name", "config"}, as Keras serializes such objects (None stays None)."""
    return None if obj is None else {"class_name": type(obj).__name__, "config": obj.get_config()}
