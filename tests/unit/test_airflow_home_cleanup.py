"""Each test process removes the throw-away AIRFLOW_HOME it made (tests/conftest.py) when it exits."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import AIRFLOW_HOME_PREFIX, REPO


def test_a_test_process_leaves_no_airflow_home_behind(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("AIRFLOW_HOME", "CDC_TESTS_AIRFLOW_HOME_OF")}
    env["TMPDIR"] = str(tmp_path)  # where tempfile.mkdtemp makes the home
    env["PYTHONPATH"] = str(REPO)  # rehearsal/ runs from the checkout, as pytest's pythonpath has it
    set_up = "import os, conftest; print(os.environ['AIRFLOW_HOME'])"

    home = subprocess.run([sys.executable, "-c", set_up], cwd=REPO / "tests", env=env, capture_output=True,
                          text=True, check=True).stdout.strip()

    assert Path(home).parent == tmp_path and Path(home).name.startswith(AIRFLOW_HOME_PREFIX)
    assert not list(tmp_path.glob(f"{AIRFLOW_HOME_PREFIX}*"))
