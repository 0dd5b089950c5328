"""Tests for poselift_core.config: the one check every configuration dataclass (models, recipes) goes through."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

import pytest

from poselift_core.config import ConfigTypeError, check_config, check_keys


@dataclass
class Toy:
    width: int = 8
    rate: float = 0.5
    flag: bool = False
    mode: Literal["a", "b"] = "a"
    kind: str = "x"
    sizes: tuple[int, ...] = (1, 2)
    limit: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_config(self, "Toy", choices={"kind": ("x", "y")},
                     ranges={"width": (1, None), "rate": (0, 1), "limit": (1, None)})


def test_valid_values_pass_and_an_int_is_a_float():
    Toy(width=3, rate=0, flag=True, mode="b", kind="y", sizes=[3, 5], limit=2, extra={"k": 1})


@pytest.mark.parametrize("key, value", [("width", 2.5), ("width", True), ("rate", True), ("rate", "0.1"),
                                        ("flag", 1), ("sizes", (1, "2")), ("sizes", 3), ("limit", 1.0),
                                        ("extra", [])])
def test_a_wrong_type_names_key_and_value_and_is_both_error_kinds(key, value):
    with pytest.raises(ConfigTypeError, match=re.escape(f"Toy: {key}={value!r} has type {type(value).__name__}")):
        Toy(**{key: value})
    assert issubclass(ConfigTypeError, TypeError) and issubclass(ConfigTypeError, ValueError)


@pytest.mark.parametrize("key, value", [("mode", "c"), ("kind", "z")])
def test_a_value_outside_its_choices_is_named(key, value):
    with pytest.raises(ValueError, match=f"Toy: {key}={value!r} is not one of"):
        Toy(**{key: value})


@pytest.mark.parametrize("key, value, bound", [("width", 0, ">= 1"), ("rate", 1.0, r"in \[0, 1\)"),
                                               ("rate", -0.1, r"in \[0, 1\)"), ("limit", 0, ">= 1")])
def test_a_value_outside_its_range_is_named(key, value, bound):
    with pytest.raises(ValueError, match=f"Toy: {key}={value!r} must be {bound}"):
        Toy(**{key: value})


def test_unknown_keys_are_listed_with_the_known_ones():
    check_keys(Toy, ["width", "rate"], "toy")
    check_keys(Toy, ["frames"], "toy", extra=("frames",))
    with pytest.raises(ValueError, match=r"toy: unknown option\(s\) \['heigth', 'widht'\]; known: .*'width'"):
        check_keys(Toy, ["widht", "width", "heigth"], "toy")
