"""The card as one self-contained HTML page a manager reads: the same sections as the Markdown
card, the verdicts first, and the performance drawn as inline SVG (no script, no external URL)."""

from __future__ import annotations

import html
import re

from cirrus.metrics import higher_is_better
from cirrus.model_card.facts import CardFacts, Metric, metric_label, primary, when
from cirrus.model_card.render_markdown import Pairs, Section, Table, card_sections

MODEL_COLOUR, BASELINE_COLOUR = "#1f5fa8", "#b3bac5"
STYLE = """
body{margin:0;background:#f4f6f9;color:#1d2430;font:16px/1.55 system-ui,-apple-system,"Segoe UI",
Roboto,Helvetica,Arial,sans-serif}
main{max-width:980px;margin:0 auto;padding:32px 36px 48px;background:#fff;min-height:100vh}
h1{font-size:30px;margin:0 0 4px}h2{font-size:21px;margin:34px 0 10px;padding-bottom:4px;
border-bottom:2px solid #e3e7ee}
.sub{color:#5b6575;margin:0 0 14px}.chips{display:flex;flex-wrap:wrap;gap:8px;margin:0 0 20px}
.chip{padding:4px 12px;border-radius:14px;font-size:14px;font-weight:600;background:#e8edf5}
.good{background:#dff3e4;color:#17602c}.bad{background:#fbe1df;color:#8f1d14}
.warn{background:#fff1d6;color:#7a4b00}
.summary{background:#eef4fc;border-left:6px solid #1f5fa8;border-radius:6px;padding:6px 22px}
.summary li{font-size:18px;margin:10px 0}
table{border-collapse:collapse;margin:10px 0 16px;font-size:14px;width:100%}
th,td{border-bottom:1px solid #e3e7ee;padding:6px 8px;text-align:left;vertical-align:top}
th{background:#f4f6f9}dl{display:grid;grid-template-columns:minmax(180px,30%) 1fr;gap:6px 16px}
dt{font-weight:600;color:#3b4556}dd{margin:0}code{background:#f0f2f6;padding:1px 4px;
border-radius:3px;font-size:90%}.figures{display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start}
figure{margin:8px 0}figcaption{font-size:14px;color:#5b6575;max-width:460px}
details summary{cursor:pointer;color:#1f5fa8}footer{margin-top:36px;color:#7a8392;font-size:13px}
"""
SECTION_CLASS = {"summary": "summary"}


def _inline(text: str) -> str:
    """Escaped text, with `backticks` shown as code."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


def _block(block: str | list[str] | Pairs | Table) -> str:
    """One block of a section as HTML."""
    if isinstance(block, str):
        return f"<p>{_inline(block)}</p>"
    if isinstance(block, list):
        return "<ul>" + "".join(f"<li>{_inline(item)}</li>" for item in block) + "</ul>"
    if isinstance(block, Pairs):
        items = "".join(f"<dt>{_inline(k)}</dt><dd>{_inline(v)}</dd>" for k, v in block.items)
        return f"<dl>{items}</dl>"
    head = "".join(f"<th>{_inline(h)}</th>" for h in block.headers)
    rows = "".join(
        "<tr>" + "".join(f"<td>{_inline(cell)}</td>" for cell in row) + "</tr>"
        for row in block.rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _charted(metrics: list[Metric]) -> list[Metric]:
    """The metrics a 0-to-1 bar chart shows fairly: higher is better, both values in range."""
    return [
        m
        for m in metrics
        if higher_is_better(m.name)
        and m.model is not None
        and m.baseline is not None
        and min(m.model, m.baseline) >= 0
        and max(m.model, m.baseline) <= 1
    ]


def bar_chart(metrics: list[Metric]) -> str:
    """Model and baseline side by side for each metric, as horizontal bars on a 0-to-1 scale."""
    label_width, bar_width, row = 110, 300, 46
    height = 40 + row * len(metrics)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_width + bar_width + 70}" '
        f'height="{height}" role="img" aria-label="Model and baseline scores">',
        f'<rect x="{label_width}" y="6" width="14" height="14" fill="{MODEL_COLOUR}"/>'
        f'<text x="{label_width + 20}" y="18" font-size="13">Model</text>'
        f'<rect x="{label_width + 90}" y="6" width="14" height="14" fill="{BASELINE_COLOUR}"/>'
        f'<text x="{label_width + 110}" y="18" font-size="13">Trivial baseline</text>',
    ]
    for index, metric in enumerate(metrics):
        top = 34 + index * row
        parts.append(
            f'<text x="{label_width - 8}" y="{top + 20}" font-size="14" text-anchor="end">'
            f"{html.escape(metric_label(metric.name))}</text>"
        )
        for offset, value, colour in (
            (0, metric.model, MODEL_COLOUR),
            (18, metric.baseline, BASELINE_COLOUR),
        ):
            width = max(1.0, bar_width * float(value or 0))
            parts.append(
                f'<rect x="{label_width}" y="{top + offset}" width="{width:.1f}" height="16" '
                f'fill="{colour}"/><text x="{label_width + width + 6:.1f}" y="{top + offset + 13}" '
                f'font-size="12">{value:.3f}</text>'
            )
    parts.append(
        f'<line x1="{label_width}" y1="28" x2="{label_width}" y2="{height - 4}" stroke="#5b6575"/>'
    )
    return "".join(parts) + "</svg>"


def roc_chart(points: list[tuple[float, float]], size: int = 260) -> str:
    """The ROC curve (catch rate against false-alarm rate) beside the coin-toss diagonal."""
    margin = 48

    def xy(fpr: float, tpr: float) -> str:
        return f"{margin + fpr * size:.1f},{margin + (1 - tpr) * size:.1f}"

    curve = " ".join(xy(x, y) for x, y in points)
    ticks = "".join(
        f'<text x="{margin + t * size:.0f}" y="{margin + size + 18}" font-size="12" '
        f'text-anchor="middle">{t:g}</text>'
        f'<text x="{margin - 8}" y="{margin + (1 - t) * size + 4:.0f}" font-size="12" '
        f'text-anchor="end">{t:g}</text>'
        for t in (0, 0.5, 1)
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size + 2 * margin}" '
        f'height="{size + 2 * margin}" role="img" aria-label="ROC curve">'
        f'<rect x="{margin}" y="{margin}" width="{size}" height="{size}" fill="#fafbfd" '
        f'stroke="#5b6575"/><polyline points="{xy(0, 0)} {xy(1, 1)}" fill="none" '
        f'stroke="{BASELINE_COLOUR}" stroke-dasharray="6 4" stroke-width="2"/>'
        f'<polyline points="{curve}" fill="none" stroke="{MODEL_COLOUR}" stroke-width="3"/>'
        f"{ticks}"
        f'<text x="{margin + size / 2}" y="{margin + size + 38}" font-size="13" '
        f'text-anchor="middle">False-alarm rate (negatives flagged)</text>'
        f'<text transform="translate(16 {margin + size / 2}) rotate(-90)" font-size="13" '
        f'text-anchor="middle">Catch rate (positives flagged)</text></svg>'
    )


def _figures(facts: CardFacts) -> str:
    """The performance charts with captions saying how to read them."""
    found = []
    charted = _charted(facts.metrics)
    if charted:
        found.append(
            f"<figure>{bar_chart(charted)}<figcaption>Longer bars are better. The grey bar is a "
            "trivial guess that knows only the average outcome: the model should clearly beat "
            "it.</figcaption></figure>"
        )
    if facts.roc:
        found.append(
            f"<figure>{roc_chart(facts.roc)}<figcaption>The ROC curve: each point is one "
            "threshold. The further the blue curve bows towards the top left, above the dashed "
            "coin-toss line, the better the model separates the two outcomes.</figcaption></figure>"
        )
    return f'<div class="figures">{"".join(found)}</div>' if found else ""


def _chips(facts: CardFacts) -> str:
    """Status labels under the title: baseline, gate, risk, drift."""
    metric, chips = primary(facts), []
    if metric is not None and metric.beats_baseline is not None:
        beats = metric.beats_baseline
        chips.append(
            (
                "good" if beats else "bad",
                "Beats the baseline" if beats else "Does not beat the baseline",
            )
        )
    if facts.gate_passed is not None:
        passed = facts.gate_passed
        chips.append(
            ("good" if passed else "bad", f"Quality gate {'passed' if passed else 'failed'}")
        )
    risk = facts.stated.risk_rating
    chips.append(
        ("warn" if risk in ("medium", "high") else "", f"Risk rating: {risk or 'not stated'}")
    )
    if facts.drift_verdict is not None:
        drifted = len(facts.drifted_features)
        chips.append(("warn" if drifted else "good", f"{drifted} drifted feature(s)"))
    return "".join(f'<span class="chip {kind}">{html.escape(text)}</span>' for kind, text in chips)


def _section(section: Section, facts: CardFacts) -> str:
    """One section; the performance section gets its charts after the first paragraph."""
    blocks = [_block(block) for block in section.blocks]
    if section.key == "performance":
        blocks.insert(1, _figures(facts))
    body = "".join(blocks)
    if section.key == "provenance":  # a long table of hashes: folded, opened on a click
        body = f"<details><summary>Show the file fingerprints</summary>{body}</details>"
    css = SECTION_CLASS.get(section.key, "")
    return f'<section class="{css}"><h2>{html.escape(section.title)}</h2>{body}</section>'


def render_html(facts: CardFacts) -> str:
    """The card as one self-contained HTML page."""
    title = html.escape(facts.name)
    sections = "".join(_section(section, facts) for section in card_sections(facts))
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Model card: {title}</title><style>{STYLE}</style></head><body><main>"
        f'<h1>Model card: {title}</h1><p class="sub">Generated '
        f"{html.escape(when(facts.generated_at))} from the run's outputs by "
        "<code>kedro cirrus model-card</code>.</p>"
        f'<div class="chips">{_chips(facts)}</div>{sections}'
        "<footer>Every number on this card is read from the run's outputs; the purpose, owner, "
        "risk rating and limitations are stated by the model's owners in "
        "<code>conf/base/parameters_model_card.yml</code>.</footer></main></body></html>\n"
    )
