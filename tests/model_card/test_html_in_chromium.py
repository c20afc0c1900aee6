"""The HTML card as a reader sees it: rendered by headless Chromium, the verdicts, the owner and
the threshold sentence on the page, and a screenshot that is not blank."""

from __future__ import annotations

import html
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from cirrus.model_card.facts import CardFacts, gather_facts, threshold_sentence, verdicts
from cirrus.model_card.render_html import MODEL_COLOUR, render_html
from cirrus.serving.artifacts import load_project

pytestmark = [pytest.mark.browser, pytest.mark.slow]
CHROMIUM = shutil.which("chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--window-size=1200,1800",
]
TOP_ROWS = 400  # the title, the status labels and the verdict box


def chromium(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    """Run headless Chromium with its own profile folder."""
    assert CHROMIUM
    profile = workdir / f"profile-{len(list(workdir.glob('profile-*')))}"
    command = [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def png_rows(path: Path, count: int) -> tuple[int, int, list[bytes]]:
    """Width, height and the first `count` rows of pixels of an 8-bit RGB(A) PNG."""
    data, position, chunks, header = path.read_bytes(), 8, [], b""
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position : position + 8])
        body = data[position + 8 : position + 8 + length]
        header = body if kind == b"IHDR" else header
        chunks += [body] if kind == b"IDAT" else []
        position += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and colour in (2, 6), "an 8-bit RGB or RGBA PNG"
    step = 3 if colour == 2 else 4
    raw, stride, previous, rows = zlib.decompress(b"".join(chunks)), width * step + 1, None, []
    for index in range(min(count, height)):
        kind, line = raw[index * stride], bytearray(raw[index * stride + 1 : (index + 1) * stride])
        above = previous or bytearray(len(line))
        for i in range(len(line)):  # PNG's five row filters, undone
            left = line[i - step] if i >= step else 0
            corner = above[i - step] if i >= step else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + above[i]) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + above[i]) // 2) & 255
            elif kind == 4:
                guess = left + above[i] - corner
                near = min(
                    (abs(guess - left), left),
                    (abs(guess - above[i]), above[i]),
                    (abs(guess - corner), corner),
                    key=lambda pair: pair[0],
                )
                line[i] = (line[i] + near[1]) & 255
        rows.append(bytes(line))
        previous = line
    return width, height, [bytes(row[i : i + 3]) for row in rows for i in range(0, len(row), step)]


@pytest.fixture(scope="module")
def facts(trained_project: Path) -> CardFacts:
    """The card's facts of the shared trained project."""
    project = load_project(trained_project, None)
    return gather_facts(project.catalog, project.params, trained_project)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (CI installs it)")
def test_chromium_shows_the_verdicts_owner_and_threshold_and_draws_the_page(
    facts: CardFacts, tmp_path: Path
) -> None:
    page = tmp_path / "model_card.html"
    page.write_text(render_html(facts))
    screenshot = tmp_path / "card.png"

    dom = chromium(tmp_path, "--dump-dom", page.as_uri()).stdout
    chromium(tmp_path, f"--screenshot={screenshot}", page.as_uri())

    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", dom)).split())
    for sentence in [*verdicts(facts), threshold_sentence(facts) or ""]:
        assert " ".join(sentence.split()) in text
    assert "Credit Risk Analytics team" in text
    assert screenshot.stat().st_size > 20_000
    width, height, pixels = png_rows(screenshot, TOP_ROWS)
    assert (width, height) == (1200, 1800)
    assert len(set(pixels)) > 20  # text, labels and the verdict box, not a blank page
    assert bytes.fromhex(MODEL_COLOUR.lstrip("#")) in set(pixels)  # the verdict box's border
