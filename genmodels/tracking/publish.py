"""What the report stage publishes: the experiment's description, tags on the model runs, the
report run, and each family's best model as a version in the model registry (and reading one back)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from genmodels.tracking.experiments import connect, project_client
from genmodels.tracking.presentation import NOTE_TAG, experiment_tags, pipeline_tags
from genmodels.tracking.runs import Run, stored_run_id
from genmodels.tracking.store import store_lock, tracking_uri

REPORT_TAG = "genmodels.report"


def describe_experiment(root: Path, experiment: str, text: str) -> None:
    """Set the experiment's description (shown on its page above the runs) and mark its kind."""
    client, exp_id = project_client(root, experiment)
    with store_lock(tracking_uri(root)):
        client.set_experiment_tag(exp_id, NOTE_TAG, text)


def tag_runs(root: Path, experiment: str, run_files: Mapping[str, Path], tags: Mapping[str, Any]) -> dict[str, str]:
    """Set ``tags`` on every stored run named in ``run_files`` (left closed); returns name -> run id."""
    client, _ = project_client(root, experiment)
    found = {}
    for name, run_file in run_files.items():
        run_id = stored_run_id(client, run_file)
        if run_id is not None:
            Run(client, run_id).set_tags(tags)
            found[name] = run_id
    return found


def log_report_run(root: Path, experiment: str, files: list[Path], tags: Mapping[str, Any]) -> str:
    """One run named ``report`` per pipeline state (git commit and dvc.lock) holding the report's
    files (``index.html``, the leaderboard): a report rerun on the same state replaces them."""
    client, exp_id = project_client(root, experiment)
    state = pipeline_tags(root)
    query = " and ".join([f"tags.`{REPORT_TAG}` = 'true'", *(f"tags.`{k}` = '{v}'" for k, v in state.items())])
    with store_lock(tracking_uri(root)):  # two reports of one state at once (queued experiments) make one run
        same = client.search_runs([exp_id], filter_string=query, max_results=1)
        if same:
            run_id = same[0].info.run_id
        else:
            run_id = client.create_run(exp_id, run_name="report", tags={REPORT_TAG: "true", **state}).info.run_id
    run = Run(client, run_id)
    run.set_tags({**tags, **experiment_tags()})
    for f in files:
        run.log_artifact(f, "report")
    client.set_terminated(run_id, "FINISHED")
    return run_id


def register_version(root: Path, name: str, run_id: str, artifact_path: str, tags: Mapping[str, Any], description: str) -> tuple[str, bool]:
    """Register ``artifact_path`` of run ``run_id`` as a version of registered model ``name``
    (created if missing) with ``tags`` and ``description``; when the latest version already
    comes from that run, only its tags and description are refreshed. Returns (version, new)."""
    client = connect(root).MlflowClient()
    clean = {k: str(v) for k, v in tags.items() if v is not None}
    with store_lock(tracking_uri(root)):  # reports of queued experiments at once: one model, numbered versions
        try:
            client.get_registered_model(name)
        except Exception:
            client.create_registered_model(name, description="genmodels: the best model of its family by FID (the report stage)")
        latest = client.search_model_versions(f"name = '{name}'", order_by=["version_number DESC"], max_results=1)
        if latest and latest[0].run_id == run_id:
            version, new = latest[0].version, False
        else:
            source = f"{client.get_run(run_id).info.artifact_uri.rstrip('/')}/{artifact_path}"
            version, new = client.create_model_version(name, source, run_id=run_id).version, True
    for k, v in clean.items():
        client.set_model_version_tag(name, version, k, v)
    client.update_model_version(name, version, description=description)
    return str(version), new


def download(root: Path, uri: str, dest: Path) -> Path:
    """Download ``uri`` (``models:/<name>/<version>``, ``runs:/...``) from the project's store into ``dest``."""
    mlflow = connect(root)
    dest.mkdir(parents=True, exist_ok=True)
    return Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(dest)))
