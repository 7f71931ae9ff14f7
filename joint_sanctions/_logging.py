"""The library's one logger: structlog events that stay silent until the application turns logging on.

A library must not decide where its log lines go. structlog's own defaults print every event on
stdout, so the library never uses them:

- when the application has configured structlog (``structlog.configure``), the events go through
  that configuration — its processors, wrapper class (level filter) and logger factory;
- otherwise they go to the standard-library logger ``joint_sanctions``, rendered as logfmt
  (``event=check check_id=… subject=…``), so ``logging.basicConfig(level=logging.INFO)`` or any
  handler on ``joint_sanctions`` receives them. A :class:`logging.NullHandler` on that logger keeps an
  application that configured nothing from seeing even warnings (``logging.lastResort``).

Either way resident ids in the events' text are masked first; the one event per check, whose
values the engine masks as it builds them, takes :func:`premasked_logger` and skips that step. The choice is made each time a logger
is bound, so configuration done after import (or after an engine was built) is followed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog

from ._identifiers import mask_text

NAME = "joint_sanctions"

_stdlib_logger = logging.getLogger(NAME)
_stdlib_logger.addHandler(logging.NullHandler())


#: mask_text masks only within 15 characters or more holding ASCII or full-width digits.
_SHORTEST_ID = 15
_ANY_DIGIT = re.compile("[0-9\uff10-\uff19]").search
# In ASCII letters and digits (check ids, revisions, USCCs) no separator can join digits, so an id
# needs 15 of these in a row.
_ASCII_RUN = re.compile("[0-9Xx]{15}").search


def _mask_event(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> Mapping[str, Any]:
    for key, value in event.items():
        # Most of an event's strings (its name, matter type, decision, ids in hex) are short, hold no
        # digit, or are ASCII letters and digits without 15 of [0-9Xx] in a row: none can hold an id,
        # and mask_text would return them as they are, at several times the cost of these tests.
        if (isinstance(value, str) and len(value) >= _SHORTEST_ID and _ANY_DIGIT(value)
                and (not (value.isascii() and value.isalnum()) or _ASCII_RUN(value))):
            event[key] = mask_text(value)
    return event


_LOGFMT = structlog.processors.LogfmtRenderer(key_order=["event"], drop_missing=True)
_STDLIB: Any = structlog.stdlib.BoundLogger(_stdlib_logger, [_mask_event, _LOGFMT], {})
_STDLIB_PREMASKED: Any = structlog.stdlib.BoundLogger(_stdlib_logger, [_LOGFMT], {})


class _MaskedChain:
    """Masking, then the application's processors. It holds the application's list itself, not a
    copy, so changes made to it in place (``structlog.testing.capture_logs``) are followed as
    structlog's own loggers follow them."""

    __slots__ = ("processors",)

    def __init__(self, processors: list[Any]) -> None:
        self.processors = processors

    def __call__(self, logger: Any, name: str, event: MutableMapping[str, Any]) -> Any:
        result: Any = _mask_event(logger, name, event)
        for processor in self.processors:
            result = processor(logger, name, result)
        return result


def _bound(**context: Any) -> Any:
    if not structlog.is_configured():
        return _STDLIB.bind(**context) if context else _STDLIB
    # The application's wrapper class (its level filter) and logger factory apply too.
    chain = _MaskedChain(structlog.get_config()["processors"])
    return structlog.wrap_logger(None, processors=[chain], logger_factory_args=(NAME,)).bind(**context)


def premasked_logger() -> Any:
    """A logger bound for the current configuration, as :func:`get_logger` ``.bind()`` gives, but
    for events whose values the caller has masked already: they skip the masking step.

    For the engine's one event per check, every value of which is masked, or safe by construction,
    when it is built: testing each of them again would cost more than the event itself."""
    if not structlog.is_configured():
        return _STDLIB_PREMASKED
    # The application's own list, not a copy: changes made to it in place are followed.
    return structlog.wrap_logger(None, processors=structlog.get_config()["processors"],
                                 logger_factory_args=(NAME,)).bind()


class _LibraryLogger:
    """What :func:`get_logger` returns: ``bind()`` gives a concrete bound logger for the current
    configuration; any other method (``info``, ``warning``…) binds afresh and calls it."""

    __slots__ = ()

    def bind(self, **context: Any) -> Any:
        return _bound(**context)

    def __getattr__(self, name: str) -> Any:
        return getattr(_bound(), name)


_LOGGER = _LibraryLogger()


def get_logger() -> Any:
    """The library's logger (module docstring). Modules keep it at module level; hot paths keep a
    ``bind()`` result and bind again when they want to follow a reconfiguration."""
    return _LOGGER
