"""The one run handle (genmodels.tracking.runs.Run): requests MLflow accepts, the same for an
open run and a closed one; checked against a client that records its calls."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

pytest.importorskip("mlflow")

from genmodels.tracking.runs import Run, stored_run_id, write_run_file


class RecordingClient:
    def __init__(self, runs: tuple[str, ...] = ()) -> None:
        self.batches: list[dict] = []
        self.runs = runs

    def log_batch(self, run_id: str, **items: list) -> None:
        self.batches.append({"run_id": run_id, **items})

    def get_run(self, run_id: str) -> object:
        if run_id not in self.runs:
            raise LookupError(run_id)
        return object()


def test_params_are_flattened_and_sent_a_hundred_per_request() -> None:
    client = RecordingClient()
    Run(client, "r1").log_params({"a": {f"p{i}": i for i in range(250)}, "b": [1, 2]})
    sizes = [len(b["params"]) for b in client.batches]
    assert sizes == [100, 100, 51] and {b["run_id"] for b in client.batches} == {"r1"}
    sent = {p.key: p.value for b in client.batches for p in b["params"]}
    assert sent["a.p7"] == "7" and sent["b"] == "[1, 2]" and len(sent) == 251


def test_metrics_keep_finite_values_in_requests_of_at_most_500() -> None:
    client = RecordingClient()
    run = Run(client, "r1")
    run.log_metrics({f"m/{i}": float(i) for i in range(1200)} | {"none": None, "nan": math.nan, "inf": math.inf}, step=3)
    assert [len(b["metrics"]) for b in client.batches] == [500, 500, 200]
    metrics = [m for b in client.batches for m in b["metrics"]]
    assert {m.step for m in metrics} == {3} and metrics[5].key == "m_5" and metrics[5].value == 5.0
    client.batches.clear()
    run.log_metrics({"none": None})
    assert client.batches == []  # nothing to send, no request


def test_history_rows_log_at_their_epoch_and_tags_skip_none() -> None:
    client = RecordingClient()
    run = Run(client, "r1")
    run.log_history([{"epoch": 0, "loss": 2.0}, {"epoch": 1, "loss": 1.0}])
    assert [[(m.key, m.value, m.step) for m in b["metrics"]] for b in client.batches] == [[("loss", 2.0, 0)], [("loss", 1.0, 1)]]
    client.batches.clear()
    run.set_tags({f"t{i}": i for i in range(150)} | {"gone": None})
    assert [len(b["tags"]) for b in client.batches] == [100, 50]
    assert all(t.value == str(int(t.key[1:])) for b in client.batches for t in b["tags"])


def test_the_run_file_names_a_run_only_while_the_store_has_it(tmp_path: Path) -> None:
    run_file = tmp_path / "models" / "m" / "run.json"
    assert stored_run_id(RecordingClient(("abc",)), run_file) is None
    write_run_file(run_file, Run(RecordingClient(), "abc"))
    assert json.loads(run_file.read_text()) == {"run_id": "abc"}
    assert stored_run_id(RecordingClient(("abc",)), run_file) == "abc"
    assert stored_run_id(RecordingClient(("other",)), run_file) is None  # another store: start afresh
