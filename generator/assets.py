"""The static files of a site: the theme's, with the site's laid over them file by file.

Stylesheets and scripts get a fingerprint in their name (`style.3fa2c1d4.css`, from a hash of
their content), so a host can cache them forever and a change still reaches every reader.
Other files (images, fonts, robots.txt) keep their names. Everything lands under `static/` in
the output.

`read_static` is the only function here that touches the disk; `build_assets` is pure.
"""
from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

OUTPUT_DIR = "static"
_PACKAGE = Path(__file__).resolve().parent
FINGERPRINTED = (".css", ".js")


@dataclass(frozen=True, slots=True)
class Assets:
    """The static files to write, and where each source file ended up.

    `files` maps output paths ('static/style.3fa2c1d4.css') to bytes; `names` maps a source
    name ('style.css', 'img/logo.svg') to its site-relative output path.
    """

    files: Mapping[str, bytes] = field(default_factory=dict)
    names: Mapping[str, str] = field(default_factory=dict)

    def asset_path(self, name: str) -> str:
        """The site-relative path of a static file by its source name; a KeyError names it."""
        try:
            return self.names[name.lstrip("/")]
        except KeyError:
            raise KeyError(f"no static file named {name!r}") from None


def read_static(*folders: Path | None) -> dict[str, bytes]:
    """The files of the given static folders, later folders overriding earlier ones by path.

    Names are POSIX paths relative to their folder; hidden files and folders are skipped, and
    so is a symbolic link that leads out of its folder (a site must not publish what lies
    outside it).
    """
    files: dict[str, bytes] = {}
    for folder in folders:
        if folder is None or not folder.is_dir():
            continue
        root = folder.resolve()
        for path in sorted(folder.rglob("*")):
            rel = path.relative_to(folder)
            if not path.is_file() or any(part.startswith(".") for part in rel.parts):
                continue
            if not path.resolve().is_relative_to(root):
                continue
            files[rel.as_posix()] = path.read_bytes()
    return files


def build_assets(sources: Mapping[str, bytes]) -> Assets:
    """Name every static file for the output, fingerprinting stylesheets and scripts."""
    files: dict[str, bytes] = {}
    names: dict[str, str] = {}
    for name in sorted(sources):
        data = sources[name]
        out = f"{OUTPUT_DIR}/{fingerprinted_name(name, data)}"
        files[out] = data
        names[name] = out
    return Assets(files=files, names=names)


def fingerprinted_name(name: str, data: bytes) -> str:
    """'css/style.css' -> 'css/style.<8 hex>.css' for stylesheets and scripts; others unchanged."""
    path = PurePosixPath(name)
    if path.suffix not in FINGERPRINTED:
        return name
    digest = hashlib.sha256(data).hexdigest()[:8]
    return str(path.with_name(f"{path.stem}.{digest}{path.suffix}"))


def theme_dirs() -> tuple[Path, Path]:
    """The default theme's (templates, static) folders.

    An installed package carries the theme as `generator/theme/`; a source checkout uses the
    repository's top-level `templates/` and `static/`, which are the theme's one source.
    """
    packaged = _PACKAGE / "theme"
    if (packaged / "templates").is_dir():
        return packaged / "templates", packaged / "static"
    return _PACKAGE.parent / "templates", _PACKAGE.parent / "static"


def load_assets(site_dir: Path | None, theme_static: Path | None = None) -> Assets:
    """The theme's static files with the site's `static/` laid over them, named for the output."""
    if theme_static is None:
        theme_static = theme_dirs()[1]
    site_static = site_dir / "static" if site_dir is not None else None
    return build_assets(read_static(theme_static, site_static))


def uses_theme_templates(site_dir: Path) -> bool:
    """True when the site renders with the theme's templates as they are (plan.py's finer keys hold).

    A site's templates/ may hold copies of the theme's (this repository's own example site is
    the theme's source); any other file there may show more of the model than the theme does.
    """
    folder = site_dir / "templates"
    if not folder.is_dir():
        return True
    theme = theme_dirs()[0]
    for path in folder.rglob("*"):
        if path.is_file():
            twin = theme / path.relative_to(folder)
            try:
                if not twin.is_file() or twin.read_bytes() != path.read_bytes():
                    return False
            except OSError:
                return False
    return True
