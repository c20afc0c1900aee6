"""Tests of `PlotlyFiguresDataset`: a set of figures in a folder, replaced whole on save, previewed
by Kedro-Viz as one figure."""

from __future__ import annotations

import inspect
from pathlib import Path

import plotly.graph_objects as go
import plotly.io as pio
import pytest
from kedro.io.core import DatasetError

from cirrus.datasets import PlotlyFiguresDataset


def _figure(title: str, kind: type = go.Scatter) -> go.Figure:
    figure = go.Figure(kind(x=[0, 1], y=[1, 0]) if kind is go.Scatter else kind(z=[[1, 2]]))
    return figure.update_layout(title=title, xaxis_title=f"{title} x", yaxis_title=f"{title} y")


def test_saved_figures_are_one_plotly_json_file_each(tmp_path: Path):
    # Arrange
    dataset = PlotlyFiguresDataset(filepath=str(tmp_path / "plots"))

    # Act
    dataset.save({"roc_curve": _figure("ROC"), "confusion_matrix": _figure("CM", go.Heatmap)})

    # Assert
    files = sorted(p.name for p in (tmp_path / "plots").iterdir())
    assert files == ["confusion_matrix.json", "roc_curve.json"]
    roc = pio.from_json((tmp_path / "plots/roc_curve.json").read_text())
    assert roc.layout.title.text == "ROC"
    loaded = dataset.load()
    assert list(loaded) == ["confusion_matrix", "roc_curve"]
    assert isinstance(loaded["confusion_matrix"].data[0], go.Heatmap)


def test_a_save_replaces_the_figures_saved_before(tmp_path: Path):
    # Arrange: a regression run's figures, then a binary run's
    dataset = PlotlyFiguresDataset(filepath=str(tmp_path / "plots"))
    dataset.save({"residuals": _figure("Residuals"), "feature_importance": _figure("FI")})

    # Act
    dataset.save({"roc_curve": _figure("ROC"), "feature_importance": _figure("FI 2")})

    # Assert
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == [
        "feature_importance.json",
        "roc_curve.json",
    ]
    assert dataset.load()["feature_importance"].layout.title.text == "FI 2"


def test_an_empty_folder_does_not_exist_and_does_not_load(tmp_path: Path):
    # Arrange
    dataset = PlotlyFiguresDataset(filepath=str(tmp_path / "plots"))

    # Act / Assert
    assert dataset.exists() is False
    with pytest.raises(DatasetError, match="No plotly figures"):
        dataset.load()


def test_kedro_viz_previews_the_set_as_one_figure_with_a_panel_each(tmp_path: Path):
    # Arrange
    dataset = PlotlyFiguresDataset(filepath=str(tmp_path / "plots"))
    dataset.save(
        {"a": _figure("ROC"), "b": _figure("Confusion", go.Heatmap), "c": _figure("Importance")}
    )

    # Act
    preview = dataset.preview()

    # Assert: Kedro-Viz names the preview type by the method's return annotation
    annotation = inspect.signature(dataset.preview).return_annotation
    assert getattr(annotation, "__name__", str(annotation)) == "PlotlyPreview"
    assert len(preview["data"]) == 3
    assert [a["text"] for a in preview["layout"]["annotations"]] == [
        "ROC",
        "Confusion",
        "Importance",
    ]
    assert preview["data"][1]["showscale"] is False
    assert preview["layout"]["xaxis3"]["title"]["text"] == "Importance x"
