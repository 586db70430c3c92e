"""The warm runner: the process that imports the stages' third-party packages once and forks one
process per ``genmodels`` command (the client, the protocol and the safety rules:
:mod:`pipelines.warm`). Standard library only, like the client.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time

from pipelines.warm import DEFAULT_IDLE, IDLE_ENV, OWN_PACKAGES, _learned_path, _paths, _recv, _send

# Stage modules imported (then forgotten) by the runner to load the third-party packages they import.
STAGE_MODULES = ("pipelines.cli", "pipelines.check", "pipelines.prepare", "pipelines.evaluator", "pipelines.train", "pipelines.sample",
                 "pipelines.evaluate", "pipelines.reference", "pipelines.restore", "pipelines.restore_reference", "pipelines.report",
                 "genmodels.models", "genmodels.tracking", "genmodels.restoration")  # fmt: skip
# Third-party modules the stages import inside functions (MLflow's store, scikit-learn's estimators, the pictures).
PRELOAD = ("mlflow", "mlflow.tracking", "mlflow.entities", "mlflow.store.tracking.sqlalchemy_store", "git", "sklearn.mixture",
           "sklearn.model_selection", "sklearn.cluster", "sklearn.datasets", "skimage.restoration", "skimage.metrics",
           "skimage.transform", "matplotlib", "matplotlib.pyplot", "sympy", "tqdm")  # fmt: skip
RUNNER_MODULES = ("pipelines.warm", "pipelines.warm_runner")  # kept loaded: the runner's own code


def _preload(learned: list[str] = ()) -> None:
    """Import the stage modules, :data:`PRELOAD` and ``learned`` (their third-party imports stay),
    then forget the project's own modules."""
    import importlib

    for name in (*STAGE_MODULES, *PRELOAD):
        try:
            importlib.import_module(name)
        except Exception as exc:  # a module that cannot load cold will say so in the fork, in its own words
            print(f"warm runner: {name} not preloaded: {exc}", file=sys.stderr, flush=True)
    _import_learned(learned)
    for name in [m for m in sys.modules if m.split(".")[0] in OWN_PACKAGES and m not in RUNNER_MODULES]:
        del sys.modules[name]


def _import_learned(names: list[str]) -> None:
    """Import what earlier forks imported on their own (quietly: a module made on the fly, such as a
    migration script or a generated template, has no importable name and is skipped)."""
    import importlib

    for name in names:
        if name not in sys.modules and name.split(".")[0] not in OWN_PACKAGES:
            try:
                importlib.import_module(name)
            except BaseException:  # noqa: BLE001  (anything a stray module does at import)
                pass


def _read_learned(key: str, offset: int) -> tuple[list[str], int]:
    try:
        with open(_learned_path(key), "rb") as f:
            f.seek(offset)
            data = f.read()
    except OSError:
        return [], offset
    complete = data[: data.rfind(b"\n") + 1]
    return complete.decode(errors="replace").split(), offset + len(complete)


def serve(key: str) -> None:
    """The runner's main loop (started by :func:`_start_runner`; see the module docstring)."""
    import selectors

    sock_path, lock_path, _ = _paths(key)
    idle = float(os.environ.get(IDLE_ENV, DEFAULT_IDLE))
    learned, offset = _read_learned(key, 0)
    try:
        _preload(learned)
        import threading

        if threading.active_count() != 1:
            print(f"warm runner: {threading.enumerate()} run after the imports; forking is not safe, exiting", file=sys.stderr, flush=True)
            return
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        tmp = f"{sock_path}.{os.getpid()}"
        listener.bind(tmp)
        listener.listen(16)
        os.replace(tmp, sock_path)
        inode = os.stat(sock_path).st_ino  # the socket file's, to see it replaced or removed
    finally:
        try:
            os.unlink(lock_path)
        except OSError:
            pass
    print(f"warm runner {os.getpid()}: serving {sock_path}", file=sys.stderr, flush=True)
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ, None)
    jobs: dict[int, socket.socket] = {}
    last = time.monotonic()
    try:
        while jobs or time.monotonic() - last < idle:
            for sk, _ in sel.select(timeout=0.05 if jobs else max(0.05, idle - (time.monotonic() - last))):
                if sk.data is None:
                    conn, _ = listener.accept()
                    pid = _start(conn, listener, sel, key)
                    if pid is not None:
                        jobs[pid] = conn
                        sel.register(conn, selectors.EVENT_READ, pid)
                    else:
                        conn.close()
                else:  # the client closed its end (or wrote, which it never does): it is gone
                    try:
                        os.killpg(sk.data, signal.SIGKILL)
                    except OSError:
                        pass
                    sel.unregister(sk.fileobj)
            while jobs:
                try:
                    pid, status, usage = os.wait4(-1, os.WNOHANG)
                except ChildProcessError:
                    break
                if pid == 0:
                    break
                conn = jobs.pop(pid)
                try:
                    sel.unregister(conn)
                except (KeyError, ValueError):
                    pass
                try:
                    _send(conn, {"status": status, "user": usage.ru_utime, "system": usage.ru_stime, "maxrss": usage.ru_maxrss})
                except OSError:
                    pass
                conn.close()
                last = time.monotonic()
                more, offset = _read_learned(key, offset)
                if more:  # what this fork imported on its own: the next forks find it loaded
                    _import_learned(more)
                    if threading.active_count() != 1:
                        print(f"warm runner: {threading.enumerate()} run after learning imports; stopping", file=sys.stderr, flush=True)
                        idle = 0.0
            if not jobs and not _same_file(sock_path, inode):
                return  # replaced or removed: another runner serves this key now
    finally:
        if _same_file(sock_path, inode):
            try:
                os.unlink(sock_path)
            except OSError:
                pass


def _same_file(path: str, inode: int) -> bool:
    try:
        return os.stat(path).st_ino == inode
    except OSError:
        return False


def _start(conn: socket.socket, listener: socket.socket, sel: object, key: str) -> int | None:
    """Read one request and fork its command; returns the fork's pid (None for a bad request)."""
    conn.settimeout(5.0)
    try:
        request, fds = _recv(conn, with_fds=3)
    except (OSError, ValueError):
        return None
    if request is None or len(fds) != 3:
        for fd in fds:
            os.close(fd)
        return None
    pid = os.fork()
    if pid == 0:  # the fork: becomes the command
        code = 1
        try:
            os.setpgid(0, 0)
            listener.close()
            sel.close()  # type: ignore[attr-defined]
            conn.close()
            code = _become(request, fds, key)
        finally:
            os._exit(code)
    for fd in fds:
        os.close(fd)
    conn.settimeout(None)
    try:
        _send(conn, {"pid": pid})
    except OSError:
        os.killpg(pid, signal.SIGKILL)
    return pid


def _become(request: dict, fds: list[int], key: str) -> int:
    """In the fork: take the client's descriptors, directory, environment and arguments, then run the CLI."""
    import atexit
    import io
    import random
    import threading

    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.path[:] = request["path"]
    sys.argv = list(request["argv"])
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGCHLD):
        signal.signal(s, signal.default_int_handler if s == signal.SIGINT else signal.SIG_DFL)
    random.seed()  # a cold process seeds ``random`` from the OS, so does the fork
    unbuffered = bool(os.environ.get("PYTHONUNBUFFERED"))

    def stream(fd: int, mode: str, line: bool) -> io.TextIOWrapper:
        raw = io.FileIO(fd, mode, closefd=False)
        buffered = io.BufferedReader(raw) if mode == "r" else io.BufferedWriter(raw)
        errors = "backslashreplace" if fd == 2 else "strict"
        return io.TextIOWrapper(buffered, encoding=sys.stdout.encoding, errors=errors, line_buffering=line, write_through=unbuffered or fd == 2)

    sys.stdin = sys.__stdin__ = stream(0, "r", False)
    sys.stdout = sys.__stdout__ = stream(1, "w", os.isatty(1))
    sys.stderr = sys.__stderr__ = stream(2, "w", True)
    code: object = 0
    loaded = set(sys.modules)
    try:
        from pipelines.cli import main as cold_main

        cold_main()
    except SystemExit as exc:
        code = exc.code
    except BaseException:  # what a cold interpreter does with an uncaught exception
        import traceback

        traceback.print_exc()
        code = 1
    threading._shutdown()  # type: ignore[attr-defined]  # as at interpreter exit: wait for non-daemon threads
    atexit._run_exitfuncs()
    new = [m for m in list(sys.modules) if m not in loaded and m.split(".")[0] not in OWN_PACKAGES and not m.startswith("_")]
    if new:  # tell the runner (one append, whole lines)
        try:
            fd = os.open(_learned_path(key), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, ("\n".join(new) + "\n").encode())
            finally:
                os.close(fd)
        except OSError:
            pass
    if code is None:
        code = 0
    elif not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    for s in (sys.stdout, sys.stderr):
        try:
            s.flush()
        except (OSError, ValueError):
            pass
    return code & 0xFF
