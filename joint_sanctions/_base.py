"""Constants every stage shares, defined once: China Standard Time and the config of frozen models.

Imports nothing of the library, so that any module (identifiers and masking included) may use it.
"""

from __future__ import annotations

import datetime as dt

from pydantic import ConfigDict

__all__ = ["CST", "FROZEN"]

#: China Standard Time (UTC+8): check dates are taken, and times shown, here unless told otherwise.
CST = dt.timezone(dt.timedelta(hours=8), "CST")

#: The config of every immutable model. hide_input_in_errors: a validation error must never echo an
#: unmasked resident id.
FROZEN = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)
