"""A preview's pages, rendered when a browser first asks for them.

`briefing serve` rendered every page before it served any: at 10,000 articles 13,560 pages,
~21 s on a 2-core machine, most of them pages nobody opens during an editing session. With
`Engine(on_request=True)` a run renders only the pages a browser has been sent; every other
page it would render is left `Pending`: its plan, rendered by the engine's `PageRenderer` the
first time its bytes are asked for (`BuildResult.content`), then kept.

A pending page is rendered from the last good run's model, whichever run planned it. That is
right for the reason that lets the engine keep a rendered page: a run replaces the page of
every plan whose dependencies changed (plan.py), so a page still pending would render the same
from the model it was planned with as from the latest.
"""
from __future__ import annotations

import threading
from typing import Any

from .packed import Links, pack
from .plan import PagePlan


class Pending:
    """A page of a preview's site not rendered yet (see the module's docstring)."""

    __slots__ = ("plan", "renderer", "data", "asked")

    def __init__(self, plan: PagePlan, renderer: PageRenderer):
        self.plan = plan
        self.renderer = renderer
        self.data: bytes | None = None   # packed (packed.py), once rendered
        self.asked = False               # a browser was sent it: it may be on screen

    def content(self, ask: bool = True) -> bytes:
        """The page, packed: rendered now if no one asked for it before. With `ask` False, a
        page not rendered yet is rendered without being kept or counted as on screen."""
        return self.renderer.content(self, ask)


def shows_change(old: Any, new: Any) -> bool:
    """Whether a browser could see a file's new value `new` differ from `old` (None: the file is new).

    A page no browser was sent cannot be on screen, so one pending page replacing another is
    no change to announce; a new page is, as a browser may show its "not found" waiting for it.
    """
    if old is new:
        return False
    if type(new) is Pending:
        return old is None or type(old) is not Pending or old.asked
    if type(old) is Pending:
        return old.data != new
    return old != new


def shown(value: Any) -> bool:
    """Whether a browser was sent this page (its rendered bytes, or a pending page it asked for)."""
    return value is not None and (type(value) is not Pending or value.asked)


class PageRenderer:
    """Renders pending pages with the last good run's environment, model and static files.

    `lock` is held by a run from the moment it decides which pages to render until it has
    committed its result (`commit`), and by every render of a pending page: a browser asking
    for one meanwhile waits, and gets the page as that run made it.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.pages: dict[str, Any] = {}   # the last good run's pages: bytes, or Pending
        self._context: tuple | None = None

    def commit(self, env: Any, site: Any, urls: Any, assets: Any, links: Links, pages: dict[str, Any]) -> None:
        """The last good run's: what pending pages are rendered with from now on (hold `lock`)."""
        self._context = (env, site, urls, assets, links)
        self.pages = pages

    def content(self, pending: Pending, ask: bool = True) -> bytes:
        with self.lock:
            # an older result's page asks for the page as the last good run has it
            current = self.pages.get(pending.plan.output, pending)
            if type(current) is not Pending:
                return current
            if not ask:
                return current.data if current.data is not None else self._render(current.plan)
            current.asked = True   # (before rendering: a page that failed is on screen too, to render again)
            if current.data is None:
                current.data = self._render(current.plan)
            return current.data

    def _render(self, plan: PagePlan) -> bytes:
        from .render import render_page
        env, site, urls, assets, links = self._context
        return pack(render_page(env, site, plan, urls, assets), links)
