"""Name and config lookup shared by the ``get`` functions of initializers, losses and
optimizers."""


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
