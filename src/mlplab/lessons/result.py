"""What one lesson run leaves: its printed lines, numbers, figures and status, kept as JSON."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields


@dataclass
class LessonResult:
    name: str
    title: str
    seed: str
    summary: str
    numbers: dict = field(default_factory=dict)
    lines: list = field(default_factory=list)
    figures: list = field(default_factory=list)     # (relative path, caption)
    paragraphs: list = field(default_factory=list)
    seconds: float = 0.0
    status: str = "ok"        # "ok", or "failed": then `reason` and `fix` say why and what to do
    reason: str = ""
    fix: str = ""
    details: str = ""         # the traceback of a failure, for whoever reports it
    quick: bool = False
    finished: str = ""        # UTC time the lesson ended, ISO 8601

    def to_json(self) -> dict:
        data = asdict(self)
        data["figures"] = [list(item) for item in self.figures]
        return data

    @classmethod
    def from_json(cls, data: dict) -> "LessonResult":
        known = {f.name for f in fields(cls)}
        result = cls(**{k: v for k, v in data.items() if k in known})
        result.figures = [tuple(item) for item in result.figures]
        return result
