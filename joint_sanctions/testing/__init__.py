"""The test kit: what a test of your own integration with joint_sanctions needs, no database or network.

What lives here:

- :class:`MemoryStore`: a record store held in memory that keeps the store contract (the same
  contract tests run against it and against SQLite and PostgreSQL);
- :class:`RecordingSink`: a feedback sink that keeps what it is sent and can fail on a script
  (a flaky platform); :class:`FailingSink`: one that fails every send (a platform that is down);
- :class:`Clock` and :class:`SequentialIds`: a settable clock and predictable ids to inject into
  ``Engine(clock=..., new_id=...)`` and ``case_book_for(..., new_id=...)``, so results are
  reproducible;
- :mod:`joint_sanctions.testing.simulator`: a provincial credit platform on loopback that receives
  feedback over HTTP and misbehaves on request. As a server for a demo::

      python -m joint_sanctions.testing.simulator --port 8765

  It validates what it receives with ``jsonschema``: ``pip install 'joint-sanctions[testing]'``.

The library itself never imports this package; it may import the library's private modules.
"""

from ._sinks import FailingSink, RecordingSink
from ._store import MemoryStore
from ._time import Clock, SequentialIds

__all__ = ["Clock", "FailingSink", "MemoryStore", "RecordingSink", "SequentialIds"]
