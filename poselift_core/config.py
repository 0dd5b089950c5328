"""One check for the configuration dataclasses: model configurations and training recipes.

A configuration is a dataclass whose annotations say the type of every field. :func:`check_config` checks an
instance field by field (type from the annotation, allowed values from a ``Literal`` annotation or a ``choices``
table, numeric ranges) and :func:`check_keys` rejects keys that are not fields, before anything is built. Every
failure is one line naming the owner, the key and the bad value: ``ValueError``, or
:class:`ConfigTypeError` (a ``TypeError`` that is also a ``ValueError``) for a value of the wrong type. The type
rule follows nanoGPT's configurator, without ``exec``: an ``int`` is a fine ``float``, a ``bool`` is neither.
"""
from __future__ import annotations

import dataclasses
import functools
import types
import typing
from typing import Any, Collection, Iterable, Literal, Mapping

__all__ = ["ConfigTypeError", "check_config", "check_keys"]


class ConfigTypeError(TypeError, ValueError):
    """A configuration value of the wrong type. Also a ``ValueError``, so one ``except ValueError`` catches every
    bad configuration."""


@functools.lru_cache(maxsize=None)
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _matches(value: Any, hint: Any) -> bool:
    """Whether ``value`` has the annotated type (containers checked element by element)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any or origin is Literal:  # a Literal's values are checked as choices
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, a) for a in args)
    if hint is type(None):
        return value is None
    if origin in (tuple, list):
        return isinstance(value, (tuple, list)) and all(_matches(v, args[0]) for v in value)
    if origin is dict:
        return isinstance(value, dict)
    if hint is float:  # an int is a fine float (lr=1 is a valid if odd choice); a bool is not
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


def _type_name(hint: Any) -> str:
    return hint.__name__ if isinstance(hint, type) else str(hint).replace("typing.", "")


def check_config(config: Any, owner: str, choices: Mapping[str, Collection[Any]] | None = None,
                 ranges: Mapping[str, tuple[float | None, float | None]] | None = None) -> None:
    """Check every field of the dataclass instance ``config``.

    Args:
        config: a dataclass instance.
        owner: how errors name it (``"GCNConfig"``, ``"recipe 'gcn-vanilla-gt'"``).
        choices: allowed values of some fields (a ``Literal[...]`` annotation gives them too).
        ranges: ``(low, high)`` per field: ``low <= value`` and ``value < high``; ``None`` leaves a side open and
            a ``None`` value (an optional field left unset) is not checked.
    Raises:
        ConfigTypeError: a value does not match its annotation.
        ValueError: a value outside its choices or range.
    """
    hints = _hints(type(config))
    choices, ranges = choices or {}, ranges or {}
    for f in dataclasses.fields(config):
        value, hint = getattr(config, f.name), hints[f.name]
        if not _matches(value, hint):
            raise ConfigTypeError(f"{owner}: {f.name}={value!r} has type {type(value).__name__}, "
                                  f"expected {_type_name(hint)}")
        allowed = typing.get_args(hint) if typing.get_origin(hint) is Literal else choices.get(f.name)
        if allowed is not None and value not in allowed:
            raise ValueError(f"{owner}: {f.name}={value!r} is not one of {tuple(allowed)}")
        low, high = ranges.get(f.name, (None, None))
        if value is not None and ((low is not None and value < low) or (high is not None and value >= high)):
            bound = f">= {low}" if high is None else f"< {high}" if low is None else f"in [{low}, {high})"
            raise ValueError(f"{owner}: {f.name}={value!r} must be {bound}")


def check_keys(config_class: type, keys: Iterable[str], owner: str, extra: Collection[str] = ()) -> None:
    """Raise ``ValueError`` naming every key that is neither a field of ``config_class`` nor in ``extra``."""
    known = {f.name for f in dataclasses.fields(config_class)} | set(extra)
    unknown = sorted(set(keys) - known)
    if unknown:
        raise ValueError(f"{owner}: unknown option(s) {unknown}; known: {sorted(known)}")
