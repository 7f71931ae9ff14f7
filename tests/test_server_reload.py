"""A running service picks up the measure lists policy staff publish, and keeps serving the old ones when
the new ones have problems (docs/http.md, "Measure lists"). A real ``joint-sanctions serve`` process."""

from __future__ import annotations

import shutil
from pathlib import Path

from .conftest import CO, FIXTURE, Server, loop_db, server_key, wait_until

GP = "government_procurement"


def test_the_service_reloads_changed_lists_and_keeps_the_old_ones_when_new_ones_are_bad(tmp_path: Path) -> None:
    """An edited list file is served within seconds (a new revision in /healthz and in check answers); a
    broken file is refused with a logged warning while the last good revision keeps answering."""
    lists = tmp_path / "lists"
    shutil.copytree(FIXTURE, lists)
    url = loop_db(tmp_path / "r.db")
    key = server_key(url, "k", tmp_path)
    server = Server(url, tmp_path, "--watch", "0.2", measures=lists)
    try:
        first = server.call("GET", "/healthz").json()["revision"]
        text = (lists / "basic.yaml").read_text(encoding="utf-8")
        (lists / "basic.yaml").write_text(text.replace("不得参加政府采购", "不得参加政府采购活动"), encoding="utf-8")
        wait_until(lambda: server.call("GET", "/healthz").json()["revision"] != first, timeout=60)
        second = server.call("GET", "/healthz").json()["revision"]
        answer = server.call("POST", "/v1/checks", key, json={"subject": CO, "matter": GP, "open_case": False})
        assert answer.status_code == 200 and answer.json()["revision"] == second
        assert "不得参加政府采购活动" in answer.text

        (lists / "basic.yaml").write_text(text + "\n  - id: [broken\n", encoding="utf-8")
        wait_until(lambda: "measures_reload_failed" in server.log.read_text(errors="replace"), timeout=60)
        still = server.call("POST", "/v1/checks", key, json={"subject": CO, "matter": GP, "open_case": False})
        assert still.status_code == 200 and still.json()["revision"] == second
        assert server.call("GET", "/healthz").json()["revision"] == second
    finally:
        assert server.stop() == 0
