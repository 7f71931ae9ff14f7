"""Text made safe to show a person: passwords out of URLs, control characters made visible.

Both are applied where a message or a human-readable output is built (docs/failing-closed.md "Hostile
input"); JSON output needs neither, since ``json.dumps`` escapes control characters and carries no
database URL.
"""

from __future__ import annotations

import re

__all__ = ["escape_controls", "redact_url"]

# scheme://user:password@ — the password runs to the last '@' of the token, since a password typed
# unencoded may itself hold '@', ':' or '/'; hiding a little of the host is the safer mistake.
_URL_PASSWORD = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"/?#@:]*):[^\s'\"]*@")
# ?password=… / &password=… in a URL query, password=… or password='…' in a libpq key=value string.
_KEY_PASSWORD = re.compile(r"(?P<key>\b(?:ssl)?password)\s*=\s*(?:'(?:[^'\\]|\\.)*'?|[^\s&#'\"]*)",
                           re.IGNORECASE)


def redact_url(text: str) -> str:
    """``text`` with every password a database or HTTP URL in it may carry replaced by ``***``.

    Covers ``scheme://user:password@host``, a ``password=`` query parameter and libpq
    ``key=value`` strings, whether or not the URL around them is well-formed.
    """
    if "@" in text:
        text = _URL_PASSWORD.sub(r"\g<head>:***@", text)
    if "=" in text:
        text = _KEY_PASSWORD.sub(r"\g<key>=***", text)
    return text


# C0 controls (line breaks and tabs too: a field must not start a line of its own), DEL, C1
# controls (0x9B is a one-character CSI on some terminals), the Unicode line and paragraph
# separators, and the bidirectional overrides and isolates that reorder what a reader sees.
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_controls(text: str) -> str:
    """``text`` with control characters shown as ``\\x1b``-style escapes, for a terminal.

    A terminal would act on them: move the cursor, erase a line, retitle the window, reorder text.
    Newlines are escaped too, so build multi-line output from escaped lines.
    """
    return _CONTROLS.sub(_visible, text)
