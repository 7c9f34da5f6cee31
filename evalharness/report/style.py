"""The style sheet, escaping and tables shared by report.html, its Human check and the run
view (importing none of them, so all can use it)."""

from __future__ import annotations

import html
from collections.abc import Sequence

STYLE = """
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2933;
       max-width: 1150px; margin: 2rem auto; padding: 0 1.2rem; }
h1 { margin-bottom: .2rem; } h2 { border-bottom: 2px solid #e4e7eb; padding-bottom: .2rem;
       margin-top: 2.2rem; }
.sub { color: #52606d; margin-top: 0; }
table { border-collapse: collapse; width: 100%; margin: .6rem 0 1rem; }
th, td { border: 1px solid #d9e2ec; padding: .35rem .6rem; text-align: left; vertical-align: top; }
th { background: #f0f4f8; } td.num { white-space: nowrap; font-variant-numeric: tabular-nums; }
.warn { background: #fffbea; border-left: 5px solid #f0b429; padding: .6rem 1rem; }
.warn li { margin: .25rem 0; }
.loud { background: #ffe3e3; border: 2px solid #e12d39; color: #8a041a; font-weight: 700;
        padding: .8rem 1rem; margin: .6rem 0; }
.ok { background: #e3f9e5; border-left: 5px solid #3ebd93; padding: .6rem 1rem; }
figure { margin: 1rem 0; } figure img { max-width: 100%; height: auto; border: 1px solid #e4e7eb; }
figcaption { color: #52606d; font-size: .9rem; }
.missing { color: #7b8794; font-style: italic; }
.pair { display: grid; grid-template-columns: 1fr 1fr; gap: 1rem; }
.pair > div { min-width: 0; }
pre { background: #f5f7fa; border: 1px solid #e4e7eb; padding: .6rem; white-space: pre-wrap;
      overflow-wrap: anywhere; margin: .3rem 0; }
.scores { font-size: .85rem; color: #52606d; }
.example { border: 1px solid #d9e2ec; padding: .2rem 1rem 1rem; margin: 1rem 0;
           border-radius: 6px; }
footer { color: #7b8794; font-size: .85rem; margin-top: 2rem; }
"""


def esc(text: object) -> str:
    """Text from the analysis, escaped for HTML (quotes included)."""
    return html.escape(str(text), quote=True)


def table(header: Sequence[str], rows: Sequence[Sequence[str]], numeric: Sequence[int] = ()) -> str:
    """An HTML table; every cell is escaped; columns in ``numeric`` do not wrap."""
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="num">{esc(c)}</td>' if i in numeric else f"<td>{esc(c)}</td>"
            for i, c in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
