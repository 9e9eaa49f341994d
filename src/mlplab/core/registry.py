"""Name registries: one place that maps strings like "relu" to classes and lists the valid names."""
from __future__ import annotations


class Registry:
    """Map lower-case names (and aliases) to factories; unknown names raise a ValueError listing the choices."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, type] = {}

    def register(self, *names: str):
        def decorator(cls):
            for name in names:
                self._entries[name.lower()] = cls
            return cls
        return decorator

    def names(self) -> list[str]:
        return sorted(self._entries)

    def name_of(self, obj) -> str | None:
        """The first registered name of `obj`'s exact class (None when its class is not registered)."""
        return next((name for name, cls in self._entries.items() if type(obj) is cls), None)

    def get(self, name: str):
        if not isinstance(name, str):
            raise TypeError(f"Invalid type for {self.kind} name: expected a string. Received: {name!r}.")
        try:
            return self._entries[name.lower()]
        except KeyError:
            raise ValueError(
                f"Unknown {self.kind} {name!r}. Valid {self.kind} names: {', '.join(self.names())}."
            ) from None

    def create(self, name: str, **kwargs):
        return self.get(name)(**kwargs)

    def resolve(self, value, argument: str, instance: str):
        """A new object from a name or a {"class_name", "config"} dict; else a TypeError naming
        `argument`, the valid names and `instance` (what else it accepts)."""
        if isinstance(value, (str, dict)):
            try:
                return self.create(value) if isinstance(value, str) else self.deserialize(value)
            except ValueError as err:
                raise ValueError(f"Invalid value for argument `{argument}`: {err}") from None
        raise TypeError(f"Invalid type for argument `{argument}`: expected a name ({', '.join(self.names())}) "
                        f"or {instance}. Received: {value!r}.")

    def serialize(self, obj) -> dict:
        """{"class_name": ..., "config": ...}: what `deserialize` turns back into an equal object."""
        if type(obj) not in self._entries.values():
            raise ValueError(f"Cannot put {obj!r} in a config: only registered {self.kind}s "
                             f"({', '.join(self.names())}) can be saved.")
        return {"class_name": type(obj).__name__, "config": obj.get_config()}

    def deserialize(self, item: dict):
        classes = {cls.__name__: cls for cls in self._entries.values()}
        name = item.get("class_name") if isinstance(item, dict) else None
        if name not in classes:
            raise ValueError(f"Unknown {self.kind} config {item!r}. Valid class names: {', '.join(sorted(classes))}.")
        return classes[name](**item.get("config", {}))


# Models register here, so that the files below the model (mlplab.files) can build one from a saved config
# without importing mlplab.model, which itself delegates save/load to them.
MODELS = Registry("model")
