#!/usr/bin/env bash
# The pipeline as a cluster job: `dvc exp run` in this project with Ray's checkpoint storage set
# from the environment, then the outputs pushed to a shared DVC remote. One command without
# shell operators, so it survives every way a job runner quotes it (a KubeRay RayJob
# `entrypoint`, `ray job submit -- ...`, `ray exec`).
#
#   cluster/repro.sh [dvc exp run options]     e.g. -S ++scaling.use_gpu=true -S ++scaling.num_workers=2
#
# Environment:
#   GENMODELS_STORAGE_PATH  scaling.storage_path for this run: a path every node mounts
#                           (/shared/ray) or s3://<bucket>/genmodels/ray; unset: the params' own
#   GENMODELS_DVC_REMOTE    a DVC remote (a shared path) to push the outputs to; unset: no push
#   MLFLOW_TRACKING_URI, RAY_ADDRESS, GENMODELS_RAY_AUTOSCALING: read by the stages as usual
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
overrides=()
if [ -n "${GENMODELS_STORAGE_PATH:-}" ]; then
  overrides+=(-S "++scaling.storage_path=$GENMODELS_STORAGE_PATH")
fi
echo "repro: dvc exp run ${overrides[*]} $* (in $PWD)" >&2
dvc exp run "${overrides[@]}" "$@"
if [ -n "${GENMODELS_DVC_REMOTE:-}" ]; then
  dvc remote add --local --force --default genmodels-shared "$GENMODELS_DVC_REMOTE"
  dvc push
fi
