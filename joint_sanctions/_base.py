"""What every stage shares, defined once: China Standard Time, the config of frozen models, and
``with`` support for what has a ``close()``.

Imports nothing of the library, so that any module (identifiers and masking included) may use it.
"""

from __future__ import annotations

import datetime as dt
from types import TracebackType
from typing import Self

from pydantic import ConfigDict

__all__ = ["CST", "FROZEN", "Closing"]

#: China Standard Time (UTC+8): check dates are taken, and times shown, here unless told otherwise.
CST = dt.timezone(dt.timedelta(hours=8), "CST")

#: The config of every immutable model. hide_input_in_errors: a validation error must never echo an
#: unmasked resident id.
FROZEN = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)


class Closing:
    """``with`` support for a class with a ``close()``: leaving the block closes it, however it ends."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
