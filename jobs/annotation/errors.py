"""Errors the engine reports to users: each names the file, the line and what was expected."""

from __future__ import annotations


class AnnotationError(Exception):
    """The input cannot be annotated; the message is shown to the user as is."""


class InputFormatError(AnnotationError):
    def __init__(self, path: str, line_number: int | None, problem: str) -> None:
        self.path = path
        self.line_number = line_number
        self.problem = problem
        where = f"{path}, line {line_number}" if line_number else path
        super().__init__(f"{where}: {problem}")

    def __reduce__(self) -> tuple[type, tuple[str, int | None, str]]:
        # travels from an annotation worker process back to the one that reports it
        return (type(self), (self.path, self.line_number, self.problem))


class ReferenceError_(AnnotationError):
    """A reference bundle is missing, incomplete or cannot be built."""


class LimitExceeded(AnnotationError):
    """The input is larger, or takes longer, than a job may (a plan's limit, or the line length cap)."""
