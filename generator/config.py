"""site.yaml: the site's settings, checked (the output folder rule is write.output_problem)."""
from __future__ import annotations

import re
import zoneinfo

from .errors import Diagnostic
from .model import SiteConfig
from .parse import Document


def site_config(doc: Document) -> tuple[SiteConfig, list[Diagnostic]]:
    """The settings from a parsed site.yaml; problems named at their line."""
    data = doc.data
    problems: list[Diagnostic] = []

    def problem(key: str, message: str, hint: str = "") -> None:
        line, column = doc.locate((key,))
        problems.append(Diagnostic(doc.path, line, column, message, hint))

    base_url = data.get("base_url") or "/"
    if not (re.match(r"https?://[^/\s]+(/[^\s]*)?$", base_url) or base_url.startswith("/")):
        problem("base_url", f"base_url must be an http(s) URL or a path starting with '/', not '{base_url}'",
                "for example https://example.org/briefing/")
        base_url = "/"
    if re.match(r"https?://[^/]+$", base_url):
        base_url += "/"
    if not base_url.endswith("/"):
        base_url += "/"
    timezone = data.get("timezone") or "UTC"
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        problem("timezone", f"unknown timezone '{timezone}'", "use an IANA name like Europe/Kyiv or UTC")
        timezone = "UTC"
    config = SiteConfig(
        title=data.get("title") or "Untitled briefing",
        base_url=base_url,
        language=data.get("language") or "en",
        description=data.get("description") or "",
        timezone=timezone,
        output=data.get("output") or "_site",
        strict=bool(data.get("strict")),
        allow_html=bool(data.get("allow_html")),
        domain=data.get("domain") or "",
        per_page=data.get("per_page") or 10,
    )
    return config, problems
