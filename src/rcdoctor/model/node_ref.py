"""How findings, plans and reports name a node: its id when known and the address to reach it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NodeRef:
    """A node as findings name it: its id when known and the address to reach it."""

    id: str | None
    address: str | None

    def __str__(self) -> str:
        if self.id and self.address:
            return f"{self.address} ({self.id[:8]})"
        return self.address or (self.id[:8] if self.id else "?")

    def to_dict(self) -> dict[str, str | None]:
        return {"id": self.id, "address": self.address}
