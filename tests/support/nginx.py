"""A real nginx (Debian's /usr/sbin/nginx) serving a docroot under a URL prefix, for tests.

    with nginx_server(docroot, "/briefing/", workdir=tmp_path / "nginx") as server:
        urllib.request.urlopen(server.url("briefings/x/"))

or, in a test module, `from support.nginx import nginx  # noqa: F401` and ask for the `nginx`
fixture: `server = nginx(docroot)`; every server it starts is stopped after the test.

nginx runs as a child of the test (not a daemon) on a free 127.0.0.1 port, with a generated
configuration whose pid file, logs and temporary folders all lie in `workdir`: nothing in
/etc/nginx, /var/log or /run is read or written, except the mime types table. It follows
symbolic links, as a production docroot that points at a release needs.
"""
from __future__ import annotations

import contextlib
import grp
import os
import pwd
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

NGINX = os.environ.get("BRIEFING_NGINX", "/usr/sbin/nginx")
MIME_TYPES = Path("/etc/nginx/mime.types")
FALLBACK_TYPES = """
    types {
        text/html html htm; text/css css; text/xml xml; text/plain txt;
        application/javascript js; application/json json; application/atom+xml atom;
        image/svg+xml svg; image/png png; image/jpeg jpg jpeg; image/webp webp; image/x-icon ico;
        font/woff2 woff2;
    }
"""


@dataclass(frozen=True)
class NginxServer:
    port: int
    prefix: str  # the URL prefix the docroot is served under, e.g. '/briefing/'
    docroot: Path
    workdir: Path

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return self.origin + self.prefix

    def url(self, path: str = "") -> str:
        """The URL of a site-relative path: url('briefings/x/') -> http://127.0.0.1:P/briefing/briefings/x/."""
        return self.base_url + path.lstrip("/")

    @property
    def error_log(self) -> str:
        path = self.workdir / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    @property
    def access_log(self) -> str:
        path = self.workdir / "access.log"
        return path.read_text(errors="replace") if path.exists() else ""


def normalize_prefix(prefix: str) -> str:
    return "/" + prefix.strip("/") + "/" if prefix.strip("/") else "/"


def render_config(docroot: Path, prefix: str, port: int, workdir: Path, not_found: str | None = "404.html") -> str:
    """nginx.conf serving `docroot` at `prefix`: pretty URLs (x/ -> x/index.html) and a 404 page."""
    prefix = normalize_prefix(prefix)
    docroot = Path(docroot).absolute()
    user = ""
    if os.geteuid() == 0:  # workers would drop to 'nobody', who cannot enter a private tmp folder
        user = f"user {pwd.getpwuid(os.geteuid()).pw_name} {grp.getgrgid(os.getegid()).gr_name};"
    types = f"include {MIME_TYPES};" if MIME_TYPES.exists() else FALLBACK_TYPES
    error_page = f"error_page 404 {prefix}{not_found};" if not_found else ""
    redirect = f"location = {prefix.rstrip('/')} {{ return 301 {prefix}; }}" if prefix != "/" else ""
    temp = "\n".join(f"    {name}_temp_path {workdir / name};"
                     for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return f"""
{user}
worker_processes 1;
daemon off;
pid {workdir / 'nginx.pid'};
error_log {workdir / 'error.log'} info;
events {{ worker_connections 64; }}
http {{
    {types}
    default_type application/octet-stream;
    access_log {workdir / 'access.log'};
{temp}
    disable_symlinks off;
    absolute_redirect off;
    server_tokens off;
    server {{
        listen 127.0.0.1:{port};
        server_name localhost;
        {redirect}
        location {prefix} {{
            alias {docroot}/;
            index index.html;
            try_files $uri $uri/ =404;
            {error_page}
        }}
    }}
}}
"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_answering(process: subprocess.Popen, port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
        time.sleep(0.05)
    return False


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)  # fast shutdown; the master stops its workers
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def nginx_server(docroot: Path, prefix: str = "/briefing/", *, workdir: Path | None = None,
                 not_found: str | None = "404.html", timeout: float = 10.0) -> Iterator[NginxServer]:
    """Run nginx serving `docroot` under `prefix` until the block ends."""
    if not os.access(NGINX, os.X_OK):
        raise FileNotFoundError(f"no nginx at {NGINX}; run scripts/setup-tests (installs nginx-light)")
    with contextlib.ExitStack() as stack:
        if workdir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="nginx-")))
        workdir = Path(workdir).absolute()
        workdir.mkdir(parents=True, exist_ok=True)
        config = workdir / "nginx.conf"
        for attempt in range(5):  # another process may take the free port before nginx binds it
            port = free_port()
            config.write_text(render_config(docroot, prefix, port, workdir, not_found))
            (workdir / "error.log").unlink(missing_ok=True)
            with open(workdir / "stderr.log", "wb") as stderr:
                process = subprocess.Popen(
                    [NGINX, "-p", str(workdir), "-e", str(workdir / "error.log"), "-c", str(config)],
                    stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr)
            if _wait_until_answering(process, port, timeout):
                break
            _stop(process)
            server = NginxServer(port, prefix, Path(docroot), workdir)
            output = (workdir / "stderr.log").read_text(errors="replace") + server.error_log
            if "Address already in use" not in output or attempt == 4:
                raise RuntimeError(f"nginx did not start:\n{output}")
        try:
            yield NginxServer(port, normalize_prefix(prefix), Path(docroot), workdir)
        finally:
            _stop(process)


@pytest.fixture
def nginx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., NginxServer]]:
    """nginx(docroot, prefix='/briefing/', not_found='404.html') -> a running NginxServer.

    Skipped where nginx is not installed, except in CI (CI=true), where that is a failure.
    """
    if not os.access(NGINX, os.X_OK) and os.environ.get("CI") != "true":
        pytest.skip(f"no nginx at {NGINX}; run scripts/setup-tests")
    with contextlib.ExitStack() as stack:
        def start(docroot: Path, prefix: str = "/briefing/", **options: object) -> NginxServer:
            workdir = tmp_path_factory.mktemp("nginx")
            return stack.enter_context(nginx_server(docroot, prefix, workdir=workdir, **options))

        yield start
