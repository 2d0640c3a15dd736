"""The result type of every reply parser: a value plus what could not be read. Parsers never raise."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Parsed(Generic[T]):
    value: T
    errors: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors
