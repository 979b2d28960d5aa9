"""The admin UI loads nothing from another host: its Content-Security-Policy is 'self', and
the package ships every file it needs (htmx vendored, no CDN)."""

from __future__ import annotations

import re
from pathlib import Path

import pimhub.admin

ADMIN = Path(pimhub.admin.__file__).parent
URL = re.compile(r"(?i)https?://[^\s\"'<>)]+")
PROTOCOL_RELATIVE = re.compile(r"(?i)(src|href|action)\s*=\s*[\"']?//")
# The XML namespace of inline SVG is a name, not an address the browser fetches.
ALLOWED = ("http://www.w3.org/2000/svg",)


def shipped(root: Path) -> list[Path]:
    return [
        p
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.suffix in {".html", ".js", ".css", ".svg"}
    ]


def remote_urls(files: list[Path]) -> list[str]:
    found = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        found += [
            f"{path.name}: {m.group(0)}"
            for m in URL.finditer(text)
            if not m.group(0).startswith(ALLOWED)
        ]
        found += [f"{path.name}: {m.group(0)}" for m in PROTOCOL_RELATIVE.finditer(text)]
    return found


def test_no_template_or_static_file_names_a_remote_url() -> None:
    files = shipped(ADMIN / "templates") + shipped(ADMIN / "static")
    assert any(p.name.startswith("htmx") for p in files)
    assert any(p.name == "base.html" for p in files)
    found = remote_urls(files)
    assert not found, "remote addresses in the admin UI:\n" + "\n".join(found)


def test_the_scan_catches_a_cdn_script_a_protocol_relative_link_and_a_css_import(
    tmp_path: Path,
) -> None:
    (tmp_path / "a.html").write_text('<script src="https://cdn.example.com/x.js"></script>')
    (tmp_path / "b.html").write_text("<link href=//fonts.example.com/f.css rel=stylesheet>")
    (tmp_path / "c.css").write_text("@import url(http://example.com/x.css);")
    (tmp_path / "d.html").write_text('<svg xmlns="http://www.w3.org/2000/svg"></svg>')
    found = remote_urls(shipped(tmp_path))
    assert [f.split(":")[0] for f in found] == ["a.html", "b.html", "c.css"]
