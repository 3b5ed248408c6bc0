"""Errors services raise; views show them as messages, the API maps them to status codes."""

from __future__ import annotations


class GreenlightError(Exception):
    """Base class: ``str(error)`` is a sentence a person understands."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class Refused(GreenlightError):
    """The action is not possible in the release's current state (API: 409)."""


class NotAllowed(GreenlightError):
    """This person may not do this (API: 403)."""
