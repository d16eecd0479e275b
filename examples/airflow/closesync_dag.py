"""Run closesync datasets from Airflow: one task per dataset, each `closesync datasets run NAME --json`.

The Data Center keeps what a dataset is (its account and encrypted key, report, destination, cursors);
Airflow only says when, and retries. Put this file in your DAGs folder on workers where `closesync` is on
the PATH and CLOSESYNC_HOME names the Data Center's home (`closesync datasets create` made the datasets
there). Works with Airflow 2.7+ and 3.

The task follows the command's exit code (docs/scale-out.md):
  0  the run succeeded            -> the task succeeds; the run's JSON is its return value (XCom)
  1  the run failed               -> the task fails with Close's message; Airflow retries it
  2  unknown dataset, bad input   -> the task fails without retrying (a retry cannot fix it)
  3  the dataset is running       -> the task is skipped: the run in progress does the work
"""

import json
import subprocess
from datetime import timedelta

import pendulum
from airflow.exceptions import AirflowException, AirflowFailException, AirflowSkipException

try:  # Airflow 3
    from airflow.sdk import dag, task
except ImportError:  # Airflow 2
    from airflow.decorators import dag, task

#: The command, before the dataset's name and --json (CLOSESYNC_HOME in the worker's environment).
COMMAND = ["closesync", "datasets", "run"]
#: The datasets this DAG runs, one task each (`closesync datasets list`).
DATASETS = ["leads", "opportunities", "calls"]
#: `closesync datasets run`'s exit codes besides 0.
EXIT_CODES = {"failed": 1, "bad_input": 2, "busy": 3}


@task(retries=2, retry_delay=timedelta(minutes=5))
def run_dataset(name: str) -> dict:
    """Run one dataset now; its run (rows, requests, reports...) is the task's result."""
    done = subprocess.run([*COMMAND, name, "--json"], capture_output=True, text=True, check=False)
    run = json.loads(done.stdout) if done.stdout.strip() else {"error": done.stderr.strip()}
    if done.returncode == 0:
        return run
    reason = f"closesync datasets run {name}: {run.get('error') or done.stderr.strip()}"
    if done.returncode == EXIT_CODES["busy"]:
        raise AirflowSkipException(reason)
    if done.returncode == EXIT_CODES["bad_input"]:
        raise AirflowFailException(reason)
    raise AirflowException(reason)


@dag(
    dag_id="closesync",
    schedule="0 * * * *",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["closesync", "close"],
)
def closesync_datasets() -> None:
    """Every hour, each dataset in its own task: one failing does not stop the others."""
    for name in DATASETS:
        run_dataset.override(task_id=f"run_{name}")(name)


closesync_datasets()
