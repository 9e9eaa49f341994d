"""The HTML report: one section per lesson with its explanation, numbers, output and figures."""
from __future__ import annotations

import html
import os
import tempfile
from pathlib import Path

STYLE = """
body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;padding:0 1em;color:#222;line-height:1.5}
h1{border-bottom:2px solid #333} h2{margin-top:2.5em;border-bottom:1px solid #ccc}
.seed{color:#666;font-size:.9em} pre{background:#f6f6f6;padding:.8em;overflow-x:auto;font-size:.85em}
table{border-collapse:collapse} td,th{border:1px solid #ddd;padding:.2em .6em;text-align:left}
figure{display:inline-block;margin:.5em;vertical-align:top;max-width:100%} img{max-width:100%}
figcaption{font-size:.85em;color:#555} nav li{margin:.2em 0}
"""


def _format(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return html.escape(str(value))


def _section(result) -> str:
    parts = [f'<h2 id="{result.name}">{html.escape(result.title)}</h2>',
             f'<p class="seed">Lesson <code>{result.name}</code> · reproduces seed <code>{html.escape(result.seed)}</code>'
             f' · ran in {result.seconds:.1f} s</p>',
             f"<p>{html.escape(result.summary)}</p>"]
    parts += [f"<p>{html.escape(p)}</p>" for p in result.paragraphs]
    if result.numbers:
        rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{_format(v)}</td></tr>" for k, v in result.numbers.items())
        parts.append(f"<table><tr><th>number</th><th>value</th></tr>{rows}</table>")
    for path, caption in result.figures:
        if path:
            parts.append(f'<figure><img src="{html.escape(path)}" alt="{html.escape(caption)}">'
                         f"<figcaption>{html.escape(caption)}</figcaption></figure>")
    parts.append("<details><summary>Printed output</summary><pre>" + html.escape("\n".join(result.lines))
                 + "</pre></details>")
    return "\n".join(parts)


def write_report(results, path) -> Path:
    """Write the report atomically (temp file + rename) and return its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    toc = "".join(f'<li><a href="#{r.name}">{html.escape(r.title)}</a></li>' for r in results)
    body = "\n".join(_section(r) for r in results)
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>mlplab lessons</title><style>{STYLE}"
            f"</style></head><body><h1>mlplab lessons</h1><p>Every program of the lecture notes, reproduced "
            f"with mlplab.</p><nav><ol>{toc}</ol></nav>{body}</body></html>")
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(page)
    os.chmod(tmp, 0o644)  # mkstemp makes it private; a report is for reading
    os.replace(tmp, path)
    return path
