"""Every cluster config under cluster/ checked without a cloud or a Kubernetes cluster:

* the Ray cluster-launcher config (cluster/aws.yaml) against the JSON schema that ships inside
  the installed ray package, then through Ray's own config preparation and validation;
* the KubeRay manifests (cluster/kuberay/) against a structural check of the RayCluster and
  RayJob fields that KubeRay requires (written here; see ``check_raycluster_spec``);
* the wiring between them and the project: the commands they run exist, they install from
  constraints.txt, the torch and ray versions they name are the pinned ones, the names they
  reference (ConfigMap, volume claim, Service, Secret-fed environment) resolve.
"""

from __future__ import annotations

import copy
import json
import re
import shlex
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).parents[2]
CLUSTER = REPO / "cluster"
YAMLS = sorted([*CLUSTER.rglob("*.yaml"), *CLUSTER.rglob("*.yml")])
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


def documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def pins() -> dict[str, str]:
    out = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        name, sep, version = line.strip().partition("==")
        if sep:
            out[name.lower().replace("_", "-")] = version
    return out


def launcher_configs() -> list[tuple[Path, dict]]:
    return [(p, d) for p in YAMLS for d in documents(p) if "provider" in d]


def manifests() -> list[tuple[Path, dict]]:
    return [(p, d) for p in YAMLS for d in documents(p) if "apiVersion" in d]


def of_kind(kind: str) -> list[dict]:
    return [d for _, d in manifests() if d["kind"] == kind]


def cluster_text() -> str:
    """Every config and script under cluster/ (where commands and pins are named)."""
    files = [p for p in CLUSTER.rglob("*") if p.is_file() and p.suffix in ("", ".yaml", ".yml", ".sh")]
    return "\n".join(p.read_text() for p in sorted(files))


# --- every file -------------------------------------------------------------------------------


def test_every_yaml_is_a_launcher_config_or_a_kubernetes_manifest() -> None:
    assert YAMLS, "no YAML under cluster/"
    for path in YAMLS:
        docs = documents(path)
        assert docs, path
        for doc in docs:
            assert "provider" in doc or {"apiVersion", "kind", "metadata"} <= set(doc), f"{path}: neither a Ray cluster-launcher config nor a manifest"
    kinds = {d["kind"] for _, d in manifests()}
    assert {"RayCluster", "RayJob", "Deployment", "Service", "ConfigMap"} <= kinds
    assert [p.name for p, _ in launcher_configs()] == ["aws.yaml"]


# --- the Ray cluster launcher ---------------------------------------------------------------------


def ray_schema() -> dict:
    import ray.autoscaler

    return json.loads((Path(ray.autoscaler.__file__).parent / "ray-schema.json").read_text())


@pytest.mark.parametrize("path,config", launcher_configs(), ids=lambda v: v.name if isinstance(v, Path) else "")
def test_launcher_config_passes_rays_schema_and_rays_own_validation(path: Path, config: dict) -> None:
    import jsonschema
    from ray.autoscaler._private.util import prepare_config, validate_config

    jsonschema.validate(config, ray_schema())
    # what `ray up` does before it touches the cloud: the provider's defaults merged in, then validated
    prepared = prepare_config(copy.deepcopy(config))
    validate_config(prepared)
    types = prepared["available_node_types"]
    head = types[prepared["head_node_type"]]
    assert head["resources"].get("GPU", 0) == 0  # the head runs the drivers, not the GPU training workers
    gpu = {name: t for name, t in types.items() if t["resources"].get("GPU", 0) >= 1}
    assert gpu and prepared["head_node_type"] not in gpu
    for t in gpu.values():
        assert t["min_workers"] == 0 and 1 <= t["max_workers"] <= prepared["max_workers"]  # scales from zero
        assert t["node_config"]["InstanceType"].startswith(("g4dn.", "g5.", "g6.", "p3.", "p4d.", "p5."))


def test_the_schema_check_is_not_vacuous() -> None:
    import jsonschema

    ((_, config),) = launcher_configs()
    for broken in ({**config, "head_node": {}}, {k: v for k, v in config.items() if k != "provider"}):  # a removed field, a missing one
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, ray_schema())
    bad_types = copy.deepcopy(config)
    bad_types["available_node_types"]["worker.gpu"]["resources"] = {"GPU": 0.5}  # resources are integers
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad_types, ray_schema())


def pip_installs(commands: list[str]) -> list[list[str]]:
    return [shlex.split(c[c.index("pip install") :]) for c in commands if "pip install" in c]


def test_launcher_setup_installs_the_project_from_its_constraints() -> None:
    ((_, config),) = launcher_configs()
    (install,) = pip_installs(config["setup_commands"])
    assert install[install.index("-c") + 1] == "constraints.txt"
    extras = re.fullmatch(r"\.\[([\w,]+)\]", install[install.index("-e") + 1]).group(1).split(",")
    assert {"pipeline", "tune"} <= set(extras) <= set(PYPROJECT["project"]["optional-dependencies"])
    assert "cluster" in extras  # Ray's dashboard: `ray job submit` needs it on the head
    # the nodes' Python satisfies requires-python
    from packaging.specifiers import SpecifierSet

    version = re.search(r"python(3\.\d+) -m venv", " ".join(config["setup_commands"])).group(1)
    assert version in SpecifierSet(PYPROJECT["project"]["requires-python"])
    assert config["file_mounts"]["~/genmodels"] == "."  # the project, from where `ray up` runs
    assert ".gitignore" in config["rsync_filter"]


def test_launcher_exports_what_the_project_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    ((_, config),) = launcher_configs()
    env = " ".join(config["setup_commands"])
    head = " ".join(config["head_setup_commands"])
    assert re.search(r"MLFLOW_TRACKING_URI=http://\S+:5000", env)
    assert re.search(r"GENMODELS_STORAGE_PATH=s3://\S+/genmodels/ray", env)
    assert "RAY_AUTH_MODE=token" in env and config["file_mounts"]["~/.ray/auth_token"] == "~/.ray/auth_token"
    assert 'GENMODELS_ROOT="$HOME/genmodels"' in env and "~/genmodels" in config["file_mounts"]  # where the project is mounted
    assert "RAY_ADDRESS=auto" in head and "GENMODELS_RAY_AUTOSCALING=1" in head
    # the names are the ones the project and cluster/repro.sh read
    assert "GENMODELS_RAY_AUTOSCALING" in (REPO / "genmodels/training/ray_checks.py").read_text()
    assert '"RAY_ADDRESS"' in (REPO / "genmodels/training/ray_adapter.py").read_text()
    assert "GENMODELS_STORAGE_PATH" in (CLUSTER / "repro.sh").read_text()
    from genmodels.tracking.store import tracking_uri

    uri = re.search(r"MLFLOW_TRACKING_URI=(\S+?)'", env).group(1)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    assert tracking_uri(REPO) == uri  # the stages record into the server the nodes name


# --- KubeRay ---------------------------------------------------------------------------------------
# KubeRay ships no schema in any package here. The required fields below are those of the Go
# types the operator's CRDs (ray.io_rayclusters.yaml, ray.io_rayjobs.yaml) are generated from:
# ray-project/kuberay ray-operator/apis/ray/v1/raycluster_types.go and rayjob_types.go (fields
# whose JSON tag has no `omitempty`), plus the RayJob rules of KubeRay's validation (exactly one
# of rayClusterSpec and clusterSelector; an entrypoint unless submissionMode is InteractiveMode).


def check_pod_template(template: dict, where: str) -> list[dict]:
    containers = template["spec"]["containers"]
    assert isinstance(containers, list) and containers, f"{where}: no containers"
    for c in containers:
        assert isinstance(c.get("name"), str) and isinstance(c.get("image"), str), f"{where}: a container needs a name and an image"
    return containers


def check_raycluster_spec(spec: dict) -> None:
    head = spec["headGroupSpec"]
    for key in ("template", "rayStartParams"):
        assert key in head, f"headGroupSpec.{key} is required"
    assert all(isinstance(v, str) for v in head["rayStartParams"].values()), "rayStartParams is map[string]string"
    check_pod_template(head["template"], "headGroupSpec")
    names = []
    for group in spec.get("workerGroupSpecs", []):
        for key in ("groupName", "minReplicas", "maxReplicas", "rayStartParams", "template"):
            assert key in group, f"workerGroupSpecs[].{key} is required"
        assert all(isinstance(v, str) for v in group["rayStartParams"].values()), "rayStartParams is map[string]string"
        assert 0 <= group["minReplicas"] <= group.get("replicas", group["minReplicas"]) <= group["maxReplicas"]
        check_pod_template(group["template"], group["groupName"])
        names.append(group["groupName"])
    assert len(names) == len(set(names)), "worker group names must differ"


def check_rayjob_spec(spec: dict) -> None:
    assert ("rayClusterSpec" in spec) != ("clusterSelector" in spec), "exactly one of rayClusterSpec and clusterSelector"
    mode = spec.get("submissionMode", "K8sJobMode")
    assert mode in ("K8sJobMode", "HTTPMode", "InteractiveMode")
    if mode != "InteractiveMode":
        assert isinstance(spec.get("entrypoint"), str) and spec["entrypoint"].strip(), "entrypoint is required"
    if "rayClusterSpec" in spec:
        check_raycluster_spec(spec["rayClusterSpec"])


def test_kuberay_manifests_have_the_fields_kuberay_requires() -> None:
    for _, doc in manifests():
        if doc["kind"] in ("RayCluster", "RayJob"):
            assert doc["apiVersion"] == "ray.io/v1" and doc["metadata"]["name"]
    (cluster,) = of_kind("RayCluster")
    check_raycluster_spec(cluster["spec"])
    (job,) = of_kind("RayJob")
    check_rayjob_spec(job["spec"])


def test_the_structural_check_is_not_vacuous() -> None:
    (cluster,) = of_kind("RayCluster")
    for path in (("headGroupSpec",), ("headGroupSpec", "rayStartParams"), ("workerGroupSpecs", 0, "maxReplicas")):
        broken = copy.deepcopy(cluster["spec"])
        node = broken
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]
        with pytest.raises((AssertionError, KeyError)):
            check_raycluster_spec(broken)
    (job,) = of_kind("RayJob")
    with pytest.raises(AssertionError):
        check_rayjob_spec({**job["spec"], "rayClusterSpec": cluster["spec"]})  # both a selector and a spec
    with pytest.raises(AssertionError):
        check_rayjob_spec({k: v for k, v in job["spec"].items() if k != "entrypoint"})


def test_gpu_workers_ask_kubernetes_for_gpus_and_the_head_does_not() -> None:
    (cluster,) = of_kind("RayCluster")
    (head,) = check_pod_template(cluster["spec"]["headGroupSpec"]["template"], "head")
    assert "nvidia.com/gpu" not in head["resources"].get("limits", {})
    gpu_groups = [
        g
        for g in cluster["spec"]["workerGroupSpecs"]
        if any(int(c["resources"]["limits"].get("nvidia.com/gpu", 0)) >= 1 for c in g["template"]["spec"]["containers"])
    ]
    assert gpu_groups
    for group in gpu_groups:
        assert group["minReplicas"] == 0 and group["maxReplicas"] >= 1
        for c in group["template"]["spec"]["containers"]:
            res = c["resources"]
            assert res["requests"].get("nvidia.com/gpu") == res["limits"]["nvidia.com/gpu"]  # extended resources: requests == limits
    assert cluster["spec"]["enableInTreeAutoscaling"] is True


def test_the_rayjob_runs_on_the_raycluster_and_its_entrypoint_exists() -> None:
    (cluster,) = of_kind("RayCluster")
    (job,) = of_kind("RayJob")
    assert job["spec"]["clusterSelector"] == {"ray.io/cluster": cluster["metadata"]["name"]}
    argv = shlex.split(job["spec"]["entrypoint"])
    assert not {"&&", "||", ";", "|"} & set(argv) and "$" not in job["spec"]["entrypoint"]  # one command, quoted the same by every KubeRay
    assert argv[0] == "bash" and argv[1].startswith(dockerfile_workdir() + "/")
    script = REPO / argv[1].removeprefix(dockerfile_workdir() + "/")
    assert script.is_file() and script == CLUSTER / "repro.sh"
    check_overrides(argv[2:])


def dockerfile_workdir() -> str:
    return re.search(r"^WORKDIR\s+(\S+)", (CLUSTER / "Dockerfile").read_text(), re.MULTILINE).group(1)


def test_manifests_reference_what_exists() -> None:
    configmaps = {d["metadata"]["name"]: d for d in of_kind("ConfigMap")}
    claims = {d["metadata"]["name"] for d in of_kind("PersistentVolumeClaim")}
    pods = [d["spec"]["headGroupSpec"]["template"] for d in of_kind("RayCluster")]
    pods += [g["template"] for d in of_kind("RayCluster") for g in d["spec"]["workerGroupSpecs"]]
    pods += [d["spec"]["template"] for d in of_kind("Deployment")]
    images = set()
    for pod in pods:
        for volume in pod["spec"].get("volumes", []):
            assert volume["persistentVolumeClaim"]["claimName"] in claims
        for c in pod["spec"]["containers"]:
            images.add(c["image"])
            for source in c.get("envFrom", []):
                if "configMapRef" in source:
                    assert source["configMapRef"]["name"] in configmaps
                else:  # a Secret is optional, or the file says how to create it
                    name = source["secretRef"]["name"]
                    assert source["secretRef"].get("optional") is True or f"kubectl create secret generic {name}" in cluster_text(), name
            if "workingDir" in c:
                assert c["workingDir"] == dockerfile_workdir()
    # one image, built by cluster/Dockerfile under the tag its comment gives, versioned like the project
    (image,) = images
    assert f"-t {image} " in (CLUSTER / "Dockerfile").read_text()
    assert image.endswith(":" + PYPROJECT["project"]["version"])
    env = configmaps["genmodels-env"]["data"]
    assert env["GENMODELS_ROOT"] == dockerfile_workdir()
    assert env["GENMODELS_STORAGE_PATH"].startswith("/shared/") and env["GENMODELS_DVC_REMOTE"].startswith("/shared/")
    mounts = {m["mountPath"] for pod in pods for c in pod["spec"]["containers"] for m in c.get("volumeMounts", [])}
    assert mounts == {"/shared"}


def test_the_mlflow_server_manifest_is_wired_to_the_ray_pods() -> None:
    from mlflow.cli import server

    (deployment,) = of_kind("Deployment")
    (service,) = of_kind("Service")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert service["spec"]["selector"].items() <= labels.items()
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["mlflow", "server"]
    options = {o: p for p in server.params for o in p.opts}
    for arg in container["args"]:
        assert arg.split("=", 1)[0] in options, arg
    # the environment feeds the server's own options (click reads these variables)
    envvars = {p.envvar for p in server.params}
    assert {e["name"] for e in container["env"]} - {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION"} <= envvars
    assert "MLFLOW_BACKEND_STORE_URI" in envvars and "MLFLOW_BACKEND_STORE_URI" in (CLUSTER / "kuberay/mlflow.yaml").read_text()
    (port,) = service["spec"]["ports"]
    assert port["targetPort"] == container["ports"][0]["name"] and container["args"].count(f"--port={container['ports'][0]['containerPort']}") == 1
    (configmap,) = [d for d in of_kind("ConfigMap") if d["metadata"]["name"] == "genmodels-env"]
    assert configmap["data"]["MLFLOW_TRACKING_URI"] == f"http://{service['metadata']['name']}:{port['port']}"


# --- the project's commands and pins ---------------------------------------------------------------


def check_overrides(argv: list[str], storage: str = "s3://bucket/genmodels/ray") -> None:
    """``-S ++a.b=value`` overrides (``dvc exp run``) apply to params.yaml and validate."""
    from genmodels.config import load_params

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    overrides = [argv[i + 1] for i, a in enumerate(argv) if a == "-S"]
    assert overrides
    for item in overrides:
        key, _, value = item.removeprefix("++").partition("=")
        node = params
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = yaml.safe_load(value.replace("$GENMODELS_STORAGE_PATH", storage))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "params.yaml"
        path.write_text(yaml.safe_dump(params))
        p = load_params(path)  # a misspelt key or a bad value raises here
    for item in overrides:
        key, _, value = item.removeprefix("++").partition("=")
        obj = p
        for part in key.split("."):
            obj = getattr(obj, part)
        assert str(obj).lower() == str(yaml.safe_load(value.replace("$GENMODELS_STORAGE_PATH", storage))).lower(), key


def test_every_genmodels_and_dvc_command_named_in_cluster_exists() -> None:
    import typer.main

    from pipelines.cli import app

    text = cluster_text()
    subcommands = set(re.findall(r"\bgenmodels ([a-z]+)(?= --|`)", text))  # a command: options or a closing backtick follow
    assert "tune" in subcommands
    known = set(typer.main.get_command(app).commands)
    assert subcommands <= known, subcommands - known
    # `dvc exp run -S` overrides in the launcher's usage line and in cluster/repro.sh
    for line in re.findall(r"repro\.sh( -S .*?)'", (CLUSTER / "aws.yaml").read_text()):
        check_overrides(shlex.split(line))
    check_overrides(["-S", "++scaling.storage_path=$GENMODELS_STORAGE_PATH"])  # what repro.sh adds
    dvc = subprocess.run([str(Path(sys.executable).parent / "dvc"), "exp", "run", "--help"], capture_output=True, text=True, timeout=120, check=False)
    assert dvc.returncode == 0 and "--set-param" in dvc.stdout


def test_torch_and_ray_versions_named_in_cluster_are_the_pinned_ones() -> None:
    pinned = pins()
    text = cluster_text() + (CLUSTER / "Dockerfile").read_text()
    for name in ("torch", "ray"):
        for version in re.findall(rf"\b{name}==([\w.+-]+)", text):
            assert version == pinned[name], f"{name}=={version} in cluster/, constraints.txt pins {pinned[name]}"
    for cluster in of_kind("RayCluster"):
        assert cluster["spec"]["rayVersion"] == pinned["ray"]
    # the image installs from the constraints (which pin torch), never from an unpinned torch
    docker = (CLUSTER / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim\s*$", docker, re.MULTILINE)
    assert docker.index("COPY pyproject.toml constraints.txt") < docker.index("pip install")
    installs = re.findall(r"pip install[^\n&]*", docker)
    assert installs and all("-c constraints.txt" in line for line in installs)
    assert "torch==" in docker and "constraints.txt" in docker  # the build asserts the installed torch is the pin
    # the pins cover what the cluster extra and the PostgreSQL driver bring
    for name in ("psycopg", "psycopg-binary", "aiohttp-cors", "opencensus", "py-spy"):
        assert name in pinned, name


# --- the scripts ---------------------------------------------------------------------------------


@pytest.mark.parametrize("script", ["mlflow_server.sh", "repro.sh", "local.sh"])
def test_scripts_parse_and_are_executable(script: str) -> None:
    path = CLUSTER / script
    assert path.stat().st_mode & 0o111
    out = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True, timeout=30, check=False)
    assert out.returncode == 0, out.stderr


def test_mlflow_server_script_usage_and_status_without_a_server(tmp_path: Path) -> None:
    script = str(CLUSTER / "mlflow_server.sh")
    env = {"PATH": "/usr/bin:/bin", "GENMODELS_PG_DIR": str(tmp_path / "none")}
    bad = subprocess.run([script, "start"], capture_output=True, text=True, timeout=30, env=env, check=False)
    assert bad.returncode == 2 and "usage" in bad.stderr
    status = subprocess.run([script, "status"], capture_output=True, text=True, timeout=30, env=env, check=False)
    assert status.returncode == 3 and "not set up" in status.stdout
    down = subprocess.run([script, "down"], capture_output=True, text=True, timeout=30, env=env, check=False)
    assert down.returncode == 0 and "nothing to stop" in down.stdout
