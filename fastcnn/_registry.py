"""Names for what model files and configs refer to: the ``get`` lookup of initializers,
losses and optimizers, and the registry of layer and model classes by name (a saved model
names its classes; loading resolves the names here and nowhere else, never through a module
path)."""

__all__ = ["lookup", "get", "register_class", "registered", "registered_name", "registered_names"]

_CLASSES = {"layer": {}, "model": {}}


def lookup(identifier, by_name, by_class, kind):
    """A new object for a registered name (any case) or a ``{"class_name", "config"}`` dict
    naming a registered class; None when ``identifier`` is neither. A config the class
    rejects is a ValueError naming ``kind``."""
    if isinstance(identifier, str) and identifier.lower() in by_name:
        return by_name[identifier.lower()]()
    if (isinstance(identifier, dict) and identifier.get("class_name") in by_class
            and isinstance(identifier.get("config", {}), dict)):
        try:
            return by_class[identifier["class_name"]].from_config(identifier.get("config", {}))
        except TypeError as exc:
            raise ValueError(f"invalid {kind} config {identifier!r}: {exc}") from None
    return None


def get(identifier, base, by_name, by_class, kind, described):
    """``identifier`` itself when it is a ``base``, else :func:`lookup`'s object; a
    ValueError listing the names and ``described`` (what else is accepted) otherwise."""
    if isinstance(identifier, base):
        return identifier
    found = lookup(identifier, by_name, by_class, kind)
    if found is None:
        raise ValueError(f"{kind} must be one of {sorted(by_name)} or {described}, got "
                         f"{identifier!r}")
    return found


def register_class(kind, cls, name):
    """Make ``cls`` the ``kind`` ("layer" or "model") class that model files call ``name``.
    Registering another class under a taken name is a ValueError."""
    if not isinstance(name, str) or not name:
        raise TypeError(f"the name of a registered {kind} class must be a non-empty string, "
                        f"got {name!r}")
    table = _CLASSES[kind]
    if table.get(name, cls) is not cls:
        raise ValueError(f"the {kind} class name {name!r} is already registered for "
                         f"{table[name].__module__}.{table[name].__qualname__}")
    table[name] = cls
    return cls


def registered(kind, name):
    """The ``kind`` class registered as ``name``; a ValueError listing the names otherwise."""
    table = _CLASSES[kind]
    if not isinstance(name, str) or name not in table:
        hint = (" (a layer of your own must be registered with fastcnn.layers.register)"
                if kind == "layer" else "")
        raise ValueError(f"unknown {kind} class {name!r}; fastcnn knows {sorted(table)}{hint}")
    return table[name]


def registered_names(kind):
    return sorted(_CLASSES[kind])


def registered_name(kind, cls):
    """The name ``cls`` is registered under (its first); a ValueError when it is not."""
    for name, registered_cls in _CLASSES[kind].items():
        if registered_cls is cls:
            return name
    raise ValueError(f"the {kind} class {cls.__qualname__} is not registered, so it cannot be "
                     "saved")
