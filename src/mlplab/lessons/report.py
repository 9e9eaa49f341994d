"""The HTML report: one self-contained file (figures embedded as data URIs), one section per lesson.

Each lesson's result is kept as <out_dir>/<lesson>/result.json; the report is rebuilt from all of
them, so lessons run one at a time into the same folder still make one complete report.
"""
from __future__ import annotations

import base64
import html
import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from mlplab.lessons.result import LessonResult
from mlplab.lessons.lectures import PRINTED, format_value, label, lecture_of

RESULT_FILE = "result.json"
_MIME = {".png": "image/png", ".svg": "image/svg+xml"}

STYLE = """
body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;padding:0 1em;color:#222;line-height:1.5}
h1{border-bottom:2px solid #333} h2{margin-top:2.5em;border-bottom:1px solid #ccc}
.lecture{color:#555;font-size:.95em} pre{background:#f6f6f6;padding:.8em;overflow-x:auto;font-size:.85em}
table{border-collapse:collapse;margin:1em 0} td,th{border:1px solid #ddd;padding:.25em .7em;text-align:left}
td.value{font-variant-numeric:tabular-nums} th{background:#f3f3f3}
figure{margin:1em 0;max-width:100%} img{max-width:100%;height:auto}
figcaption{font-size:.9em;color:#555} nav li{margin:.2em 0}
.failed{border-left:4px solid #c33;background:#fff4f4;padding:.6em 1em} .tag{color:#c33;font-size:.9em}
"""


def _json_default(value):
    """NumPy scalars and arrays as plain JSON numbers and lists."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


def _write_atomically(path: Path, text: str) -> None:
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(temp, 0o644)  # mkstemp makes it private; a report is for reading
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def save_result(result, out_dir) -> Path:
    """Keep one lesson's result as <out_dir>/<lesson>/result.json (written atomically)."""
    folder = Path(out_dir) / result.name
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / RESULT_FILE
    _write_atomically(path, json.dumps(result.to_json(), default=_json_default, indent=1, ensure_ascii=False))
    return path


def load_results(out_dir, order=()) -> list:
    """Every lesson result kept in `out_dir`, in the order of the lesson names `order` (others last, by name)."""
    order = {name: i for i, name in enumerate(order)}
    results = []
    for path in sorted(Path(out_dir).glob(f"*/{RESULT_FILE}")):
        if not path.is_file():  # never wait on a FIFO or read a device someone put there
            continue
        try:
            results.append(LessonResult.from_json(json.loads(path.read_text(encoding="utf-8"))))
        except (OSError, ValueError, TypeError):
            continue  # a damaged or foreign file: the lesson is simply not in the report until re-run
    return sorted(results, key=lambda r: (order.get(r.name, len(order)), r.name))


def build_report(out_dir, order=()) -> Path:
    """Rebuild <out_dir>/report.html from every result kept in the folder (lessons in the order `order`)."""
    return write_report(load_results(out_dir, order), Path(out_dir) / "report.html")


def _image(out_dir: Path, relative: str, caption: str) -> str:
    path = out_dir / relative
    mime = _MIME.get(path.suffix.lower())
    try:
        data = path.read_bytes() if mime and path.is_file() else None
    except OSError:
        data = None
    if data is None:
        return f'<p class="tag">Figure missing: {html.escape(relative)} (run the lesson again).</p>'
    uri = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
    return (f'<figure><img src="{uri}" alt="{html.escape(caption, quote=True)}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def _table(result) -> str:
    printed = PRINTED.get(result.name, {})
    with_lecture = any(key in printed for key in result.numbers)
    head = "<tr><th>quantity</th><th>mlplab</th>" + ("<th>printed in the lecture</th>" if with_lecture else "") + "</tr>"
    rows = []
    for key, value in result.numbers.items():
        cells = f'<td title="{html.escape(key, quote=True)}">{html.escape(label(key))}</td>' \
                f'<td class="value">{html.escape(format_value(key, value))}</td>'
        if with_lecture:
            cells += f'<td class="value">{html.escape(format_value(key, printed[key])) if key in printed else ""}</td>'
        rows.append(f"<tr>{cells}</tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def _section(result, out_dir: Path) -> str:
    lecture, topic = lecture_of(result.seed, result.name)
    about = f"From the lecture <b>{html.escape(lecture)}</b>" + (f": {html.escape(topic)}" if topic else "") + "."
    parts = [f'<h2 id="{html.escape(result.name, quote=True)}">{html.escape(result.title)}</h2>']
    if result.status != "ok":
        parts += [f'<p class="lecture">{about} Lesson <code>{html.escape(result.name)}</code>.</p>',
                  f'<div class="failed"><p><b>Could not run:</b> {html.escape(result.reason)}</p>'
                  f"<p><b>Fix:</b> {html.escape(result.fix)}</p></div>"]
        if result.details:
            parts.append("<details><summary>Error details</summary><pre>" + html.escape(result.details) + "</pre></details>")
        return "\n".join(parts)
    run = f"ran in {result.seconds:.1f} s" + (" (quick run)" if result.quick else "")
    parts += [f'<p class="lecture">{about} Lesson <code>{html.escape(result.name)}</code>, {run}.</p>',
              f"<p>{html.escape(result.summary)}</p>"]
    parts += [f"<p>{html.escape(p)}</p>" for p in result.paragraphs]
    if result.numbers:
        parts.append(_table(result))
    parts += [_image(out_dir, path, caption) for path, caption in result.figures if path]
    parts.append("<details><summary>Printed output</summary><pre>" + html.escape("\n".join(result.lines))
                 + "</pre></details>")
    return "\n".join(parts)


def write_report(results, path) -> Path:
    """Write the self-contained report atomically (temp file + rename) and return its path.

    Figures are read from the folder of `path` and embedded, so the file can be moved or mailed alone.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    failed = [r for r in results if r.status != "ok"]

    def entry(r):
        tag = f' <span class="tag">(could not run: {html.escape(r.reason)})</span>' if r.status != "ok" else ""
        return f'<li><a href="#{html.escape(r.name, quote=True)}">{html.escape(r.title)}</a>{tag}</li>'
    toc = "".join(entry(r) for r in results)
    body = "\n".join(_section(r, path.parent) for r in results)
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    status = f"{len(results)} lesson(s)" + (f", {len(failed)} could not run (see their sections)" if failed else "")
    page = (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><meta name='viewport' "
            f"content='width=device-width, initial-scale=1'><title>mlplab lessons</title><style>{STYLE}</style>"
            f"</head><body><h1>mlplab lessons</h1><p>The programs of the lecture notes, reproduced with mlplab: "
            f"{status}. Report built {when}.</p><nav><ol>{toc}</ol></nav>{body}</body></html>")
    _write_atomically(path, page)
    return path
