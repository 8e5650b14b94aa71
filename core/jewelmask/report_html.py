"""``index.html``: the contact sheet of a batch, to review the results.

One self-contained page (no scripts, no network): for each photo the
photo, the cutout over a checkerboard and the cutout over a colour that
contrasts with the backdrop (a fringe of backdrop left in the mask shows
there), its figures and why it was flagged. Failed photos come first, then
flagged ones, then the rest.
"""

from __future__ import annotations

from html import escape
from urllib.parse import quote

__all__ = ["render_index"]

_CSS = """
body{font:14px/1.35 system-ui,sans-serif;margin:16px;background:#f4f4f2;color:#222}
h1{font-size:20px;margin:0 0 4px} .meta{color:#666;margin-bottom:12px}
.card{display:flex;gap:10px;align-items:flex-start;background:#fff;border:1px solid #ddd;
 border-radius:6px;padding:8px;margin:0 0 8px}
.card.failed{border-left:6px solid #c0392b}.card.flagged{border-left:6px solid #e6a700}
.card.ok{border-left:6px solid #2e8b57}
figure{margin:0;text-align:center;font-size:11px;color:#777}
figure img{display:block;width:200px;height:150px;object-fit:contain;border:1px solid #ccc}
.checker{background-color:#fff;background-image:linear-gradient(45deg,#bbb 25%,transparent 25%),
 linear-gradient(-45deg,#bbb 25%,transparent 25%),linear-gradient(45deg,transparent 75%,#bbb 75%),
 linear-gradient(-45deg,transparent 75%,#bbb 75%);background-size:16px 16px;
 background-position:0 0,0 8px,8px -8px,-8px 0}
.info{flex:1;min-width:200px} .name{font-weight:600;word-break:break-all}
.flag{color:#a05a00} .err{color:#c0392b} table{border-collapse:collapse;font-size:12px}
td{padding:0 8px 0 0;color:#444}
"""


def _status(rec):
    if rec["status"] != "ok":
        return "failed", 0
    return ("flagged", 1) if rec.get("flags") else ("ok", 2)


def _card(rec) -> str:
    cls, _ = _status(rec)
    name = escape(rec["input"])
    parts = [f'<div class="card {cls}">']
    th = rec.get("thumbs")
    if th:
        photo, cut = quote(th["photo"]), quote(th["cutout"])
        colour = escape(th.get("contrast", "#203060"))
        parts.append(f'<figure><img src="{photo}" alt="photo {name}">photo</figure>')
        parts.append(f'<figure><img class="checker" src="{cut}" alt="mask {name}">'
                     'over checkerboard</figure>')
        parts.append(f'<figure><img style="background:{colour}" src="{cut}" '
                     f'alt="mask over colour {name}">over {colour}</figure>')
    parts.append(f'<div class="info"><div class="name">{name}</div>')
    if rec["status"] != "ok":
        parts.append(f'<div class="err">failed: {escape(rec.get("error", ""))}</div>')
    for flag in rec.get("flags", []) if rec["status"] == "ok" else []:
        parts.append(f'<div class="flag">&#9873; {escape(flag)}</div>')
    rows = [("recipe", rec.get("recipe")), ("seconds", rec.get("seconds"))]
    if rec.get("width"):
        rows.append(("size", f'{rec["width"]} x {rec["height"]}'))
    rows += list(rec.get("figures", {}).items())
    if rec["status"] == "ok":
        rows += [(f"output ({k})", v) for k, v in rec.get("outputs", {}).items()]
    parts.append("<table>" + "".join(f"<tr><td>{escape(str(k))}</td><td>{escape(str(v))}</td></tr>"
                                     for k, v in rows) + "</table></div></div>")
    return "".join(parts)


def render_index(report: dict) -> str:
    """The HTML of the contact sheet for a ``report.json`` document."""
    files = sorted(report["files"], key=lambda r: (_status(r)[1], r["input"]))
    c = report.get("counts", {})
    head = (f'{len(files)} photos: {c.get("ok", 0)} done, {c.get("failed", 0)} failed, '
            f'{c.get("flagged", 0)} flagged for a look. Written {escape(report.get("written", ""))} '
            f'by jewelmask {escape(report.get("version", ""))} ({escape(report.get("scheduler", ""))}).')
    return ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<title>jewelmask batch</title>"
            f"<style>{_CSS}</style></head><body><h1>jewelmask batch: "
            f"{escape(report.get('input_dir', ''))}</h1><div class=\"meta\">{head}</div>"
            + "".join(_card(r) for r in files) + "</body></html>\n")
