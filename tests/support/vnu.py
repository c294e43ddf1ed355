"""The Nu Html Checker (vnu.jar, the W3C validator) over built pages.

    messages = check_html([site / "index.html"])          # or check_html(site_folder)
    assert not messages, format_messages(messages)

The jar comes from npm's `vnu-jar`, installed by `scripts/setup-tests` into the repository's
`tools/vnu/` (ignored by git); `BRIEFING_VNU_JAR` may point elsewhere. Java 11+ runs it.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

REPO = Path(__file__).resolve().parents[2]
JAR = Path(os.environ.get("BRIEFING_VNU_JAR", REPO / "tools/vnu/node_modules/vnu-jar/build/dist/vnu.jar"))


@dataclass(frozen=True, slots=True)
class VnuMessage:
    type: str  # 'error', 'info' (with subType 'warning'), or 'non-document-error'
    path: str
    line: int
    column: int
    message: str
    extract: str = ""

    def format(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.type}: {self.message}"


def format_messages(messages: Iterable[VnuMessage]) -> str:
    return "\n".join(message.format() for message in messages)


def java() -> str | None:
    return shutil.which("java") or ("/usr/bin/java" if os.access("/usr/bin/java", os.X_OK) else None)


def available() -> bool:
    return JAR.is_file() and java() is not None


def require_vnu() -> None:
    """Skip the calling test when the checker is not installed, except in CI (CI=true): fail there."""
    if not available():
        reason = f"no vnu.jar at {JAR} or no java; run scripts/setup-tests"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


def check_html(targets: Path | Iterable[Path], *, errors_only: bool = True,
               also_check_css: bool = False) -> list[VnuMessage]:
    """Check HTML files (or every .html file in a folder) and return what the checker said."""
    if not available():
        raise FileNotFoundError(f"no vnu.jar at {JAR} or no java; run scripts/setup-tests")
    targets = [targets] if isinstance(targets, (str, Path)) else list(targets)
    if not targets:
        return []
    command = [java(), "-Xss2m", "-jar", str(JAR), "--format", "json", "--stdout", "--skip-non-html"]
    if errors_only:
        command.append("--errors-only")
    if also_check_css:
        command.append("--also-check-css")
    command += [str(Path(target).resolve()) for target in targets]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        raise RuntimeError(f"vnu gave no JSON report (exit {result.returncode}):\n"
                           f"{result.stdout}\n{result.stderr}") from None
    return [_message(raw) for raw in report.get("messages", [])]


def _message(raw: dict) -> VnuMessage:
    url = raw.get("url", "")
    path = unquote(urlsplit(url).path) if url.startswith("file:") else url
    return VnuMessage(
        type=raw.get("subType") or raw.get("type", ""),
        path=path,
        line=raw.get("lastLine", raw.get("firstLine", 0)),
        column=raw.get("firstColumn", raw.get("lastColumn", 0)),
        message=raw.get("message", ""),
        extract=raw.get("extract", ""),
    )
