"""Build hook: compile joint_sanctions/_speedups.c, _lane.c, _lane_subject.c, _membership.c, _hit.c,
_rows.c and _csv_row.c, the optional compiled helpers.

Where no C compiler (or no Python header) is at hand, the package is built without it and works
the same, a little slower (joint_sanctions/_accel.py). An editable install compiles the module in
place, next to its source; a wheel carries it and is then tagged for this platform.
"""

from __future__ import annotations

import shlex
import subprocess
import sysconfig
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class SpeedupsHook(BuildHookInterface):
    """Compiles the C twins for wheels (and editable installs); never fails the build for them."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel":
            return
        package = Path(self.root, "joint_sanctions")
        sources = [str(package / name)
                   for name in ("_speedups.c", "_lane.c", "_lane_subject.c", "_membership.c", "_hit.c", "_rows.c",
                                "_csv_row.c")]
        name = "_speedups" + str(sysconfig.get_config_var("EXT_SUFFIX") or ".so")
        target = package / name if version == "editable" else Path(self.directory, "speedups", name)
        target.parent.mkdir(parents=True, exist_ok=True)
        link = shlex.split(str(sysconfig.get_config_var("LDSHARED") or "cc -shared"))
        command = [*link, "-O2", "-fPIC", f"-I{sysconfig.get_paths()['include']}", *sources, "-lm", "-o", str(target)]
        try:
            done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=300)
        except OSError as exc:
            self.app.display_warning(f"joint_sanctions._speedups not built ({exc}): pure-Python helpers serve")
            return
        if done.returncode != 0:
            self.app.display_warning("joint_sanctions._speedups not built: pure-Python helpers serve\n"
                                     + done.stderr[-2000:])
            target.unlink(missing_ok=True)
            return
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
        if version != "editable":
            build_data["force_include"][str(target)] = f"joint_sanctions/{name}"
