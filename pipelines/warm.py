"""The ``genmodels`` entry point and the warm runner's client: stages start in a fork of a process
that has already imported the heavy libraries (the runner itself: :mod:`pipelines.warm_runner`).

A stage's fixed cost is mostly imports: torch, scikit-learn, MLflow, SciPy and pyarrow take
6-9 CPU seconds to import, more than most stages' own work, and a cold ``dvc repro`` runs 29
stages. The warm runner pays that once. The first ``genmodels`` command runs as usual (cold)
and starts, in the background, a *runner*: a process that imports the stage modules, then forgets
the project's own modules (``genmodels.*`` and ``pipelines.*``; only third-party modules stay
loaded), and waits on a Unix socket. Each later command is a thin *client*: it sends its
arguments, working directory, environment and ``sys.path``, and its standard input, output and
error (the file descriptors themselves, ``SCM_RIGHTS``); the runner forks; the fork takes the
client's descriptors, directory, environment and arguments, imports the project's modules afresh
from disk (so an edited source file is always the one that runs) and runs the command; the
client forwards signals (Ctrl-C, ``kill``) to the fork's process group and exits with the fork's
exit status, or dies of its signal. A fork that imported third-party modules the runner lacked
(what a stage imports on first use: torch's compiler stack behind the optimizers, MLflow's
migration and tracing modules, ...) lists them in ``<key>.modules`` when it ends; the runner
imports them before the next fork (and a new runner with the same key at its start), so every
stage after the first of its kind starts with its imports done.
A client killed outright (SIGKILL) takes its fork with it:
the runner sees the connection close and kills the fork's group. What a command prints, writes
and returns is the same as cold (the warm and cold outputs are compared byte for byte in
tests/pipelines/test_warm.py).

Safety rules:

* A runner serves only clients with the same interpreter, ``sys.path``, installed packages
  (the site-packages folder's modification time), this file's version, and the same values of
  the environment variables a library reads when it is imported (``PYTHON*``, the OpenMP/BLAS
  thread counts, ``TORCH*``, ``CUDA*``, ``LD_*``, locale, ...): the socket's name is a hash of
  them. Any other variable (``GENMODELS_ROOT``, ``MLFLOW_TRACKING_URI``, ...) is set per command.
* A fork copies only the forking thread: the runner checks that no other Python thread runs
  after its imports (and after each learned import) and exits otherwise, so that clients run cold. The native threads it has
  then are OpenBLAS's pools (numpy's and SciPy's), which OpenBLAS shuts down around a fork
  and restarts on demand; pyarrow's jemalloc background thread is switched off for it.
  torch's OpenMP pool is never started in the runner (it runs no tensor work).
* Any failure to reach a runner means a cold run: nothing has started yet. Long-lived commands
  (``ui``, ``tune``) always run cold.
* A runner exits after ``GENMODELS_WARM_IDLE`` seconds (default 300) without a command.
  Its socket, start-up lock and log are in ``GENMODELS_WARM_DIR`` (default
  ``/tmp/genmodels-warm-<uid>``).

``GENMODELS_WARM=0`` turns the runner off (every command cold). ``GENMODELS_WARM_RUSAGE=FILE``
makes a warm client write the fork's CPU seconds there (JSON), for benchmarks/bench_stages.py:
a client's own CPU clock cannot see its fork, which is the runner's child.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import struct
import sys
import time

ENABLE_ENV = "GENMODELS_WARM"
IDLE_ENV = "GENMODELS_WARM_IDLE"
RUSAGE_ENV = "GENMODELS_WARM_RUSAGE"
DIR_ENV = "GENMODELS_WARM_DIR"
DEFAULT_IDLE = 300.0
COLD_COMMANDS = frozenset({"ui", "tune"})  # long-lived: a server, a Ray Tune search
# Environment variables that libraries read when they are imported: a runner serves only clients that agree on them.
KEYED_PREFIXES = ("PYTHON", "OMP_", "MKL_", "OPENBLAS_", "KMP_", "GOMP_", "VECLIB_", "NUMEXPR_", "TORCH", "PYTORCH", "CUDA", "NVIDIA_",
                  "LD_", "JE_", "ARROW_", "MPL", "LANG", "LC_", "TZ", "HOME", "TMPDIR", "XDG_")  # fmt: skip
OWN_PACKAGES = ("genmodels", "pipelines")
HEADER = struct.Struct("!I")


# ----------------------------------------------------------------------------- the client


def main() -> None:
    """The ``genmodels`` command: warm when a runner serves this environment, cold otherwise."""
    args = sys.argv[1:]
    if _wanted(args):
        code = _run_warm(args)
        if code is not None:
            sys.exit(code)
        _start_runner()
    from pipelines.cli import main as cold_main

    cold_main()


def _wanted(args: list[str]) -> bool:
    if os.environ.get(ENABLE_ENV, "1").strip().lower() in ("0", "off", "false", "no"):
        return False
    command = next((a for a in args if not a.startswith("-")), None)
    return command is not None and command not in COLD_COMMANDS and hasattr(socket, "send_fds")


def _site_packages() -> str:
    v = sys.version_info
    return os.path.join(sys.prefix, "lib", f"python{v.major}.{v.minor}", "site-packages")


def runner_key(environ: dict[str, str] | None = None) -> str:
    """The hash that names the runner able to serve this process (see the module's safety rules)."""
    environ = dict(os.environ if environ is None else environ)
    keyed = sorted((k, v) for k, v in environ.items() if k.startswith(KEYED_PREFIXES))

    def mtime(path: str) -> int:
        try:
            return os.stat(path).st_mtime_ns
        except OSError:
            return 0

    code = [mtime(os.path.join(os.path.dirname(__file__), f)) for f in ("warm.py", "warm_runner.py")]  # the protocol's version
    identity = [sys.executable, sys.path, mtime(_site_packages()), code, keyed, os.getuid()]
    return hashlib.sha256(json.dumps(identity).encode()).hexdigest()[:20]


def runner_dir() -> str:
    """The folder of this user's runners' sockets, locks and logs (mode 0700): ``$GENMODELS_WARM_DIR``,
    else ``/tmp/genmodels-warm-<uid>`` (a short path: a Unix socket's path has at most 107 bytes)."""
    path = os.environ.get(DIR_ENV) or os.path.join("/tmp", f"genmodels-warm-{os.getuid()}")
    os.makedirs(path, mode=0o700, exist_ok=True)
    return path


def _paths(key: str) -> tuple[str, str, str]:
    d = runner_dir()
    return os.path.join(d, f"{key}.sock"), os.path.join(d, f"{key}.lock"), os.path.join(d, f"{key}.log")


def _learned_path(key: str) -> str:
    """The third-party modules that forks of this key's runners imported (one name a line)."""
    return os.path.join(runner_dir(), f"{key}.modules")


def _send(conn: socket.socket, message: dict, fds: list[int] | None = None) -> None:
    data = json.dumps(message).encode()
    payload = HEADER.pack(len(data)) + data
    sent = socket.send_fds(conn, [payload], fds) if fds else 0
    conn.sendall(payload[sent:])


def _recv(conn: socket.socket, with_fds: int = 0) -> tuple[dict | None, list[int]]:
    """One message (None at end of stream) and the descriptors that came with its first bytes."""
    buf, fds = b"", []
    while len(buf) < HEADER.size or len(buf) < HEADER.size + HEADER.unpack(buf[: HEADER.size])[0]:
        if with_fds and not fds:
            chunk, got, _, _ = socket.recv_fds(conn, 1 << 16, with_fds)
            fds = list(got)
        else:
            chunk = conn.recv(1 << 16)
        if not chunk:
            for fd in fds:
                os.close(fd)
            return None, []
        buf += chunk
    (size,) = HEADER.unpack(buf[: HEADER.size])
    return json.loads(buf[HEADER.size : HEADER.size + size]), fds


def _run_warm(args: list[str]) -> int | None:
    """Run the command in a runner's fork and return its exit code; None when no runner took it."""
    sock_path, _, _ = _paths(runner_key())
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(sock_path)
        for fd in (0, 1, 2):
            os.fstat(fd)
        _send(conn, {"argv": ["genmodels", *args], "cwd": os.getcwd(), "env": dict(os.environ), "path": sys.path}, [0, 1, 2])
        started, _ = _recv(conn)
    except OSError:
        started = None
    if not started or "pid" not in started:
        conn.close()
        return None
    pid = started["pid"]

    def forward(signum: int, frame: object) -> None:
        try:
            os.killpg(pid, signum)
        except OSError:
            pass

    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(s, forward)
    try:
        done, _ = _recv(conn)
    except OSError:
        done = None
    if done is None:
        print(f"error: the warm runner stopped while 'genmodels {' '.join(args)}' ran (process {pid}); rerun with {ENABLE_ENV}=0", file=sys.stderr)
        return 1
    if os.environ.get(RUSAGE_ENV):
        with open(os.environ[RUSAGE_ENV], "w") as f:
            json.dump({"user": done["user"], "system": done["system"], "maxrss_kb": done["maxrss"]}, f)
    status = done["status"]
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
        return 128 + sig
    return os.waitstatus_to_exitcode(status)


def _start_runner() -> None:
    """Start a runner for this environment in the background, unless one is starting already."""
    key = runner_key()
    sock_path, lock_path, log_path = _paths(key)
    try:
        if os.path.exists(sock_path):  # there, but it refused us: a runner that has exited
            os.unlink(sock_path)
        try:
            fd = os.open(lock_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            if time.time() - os.stat(lock_path).st_mtime < 120:
                return  # another client is starting it
            os.unlink(lock_path)
            fd = os.open(lock_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        os.close(fd)
        import subprocess

        env = {**os.environ, "GENMODELS_WARM_PATH": json.dumps(sys.path)}
        env.setdefault("JE_ARROW_MALLOC_CONF", "background_thread:false")  # no jemalloc thread in the runner
        code = f"import sys; sys.path[:] = {sys.path!r}; from pipelines.warm_runner import serve; serve({key!r})"
        with open(log_path, "wb") as log:
            subprocess.Popen([sys.executable, "-c", code], cwd="/", env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    except OSError:
        pass  # no runner: every command runs cold


if __name__ == "__main__":
    main()
