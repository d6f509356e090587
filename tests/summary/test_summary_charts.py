"""The charts: PNG images with Chinese labels, and still charts when no CJK font can be found."""

from __future__ import annotations

import logging
import struct

import pytest

from recruitment_month.summary import charts
from recruitment_month.summary.render import render_summary


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_a_packaged_cjk_font_is_found_and_registered():
    pytest.importorskip("noto_cjk_sans_otc", reason="the CJK font package is not installed")
    assert charts.cjk_font() == "Noto Sans CJK SC"


def test_charts_are_pngs_twice_the_display_width(preliminary):
    images = charts.render_charts(preliminary)
    assert set(images) == {"status", "trend", "industry"}
    for data in images.values():
        width, height = png_size(data)
        assert width == charts.WIDTH_PX * charts.DPI // 100
        assert 200 < height < 1600
        assert len(data) < 200_000
    assert charts.render_charts(preliminary) == images  # deterministic


def test_short_names():
    assert [
        charts.short_name(n)
        for n in ("广西壮族自治区", "新疆生产建设兵团", "黑龙江省", "北京市", "西藏自治区")
    ] == [
        "广西",
        "兵团",
        "黑龙江",
        "北京",
        "西藏",
    ]


def test_without_a_cjk_font_charts_fall_back_to_latin_labels(preliminary, monkeypatch, caplog):
    monkeypatch.setattr(charts, "_packaged_font_files", lambda: [])
    monkeypatch.setattr(charts, "CJK_FAMILIES", ("No Such Font SC",))
    with caplog.at_level(logging.WARNING, logger=charts.__name__):
        assert charts.cjk_font.__wrapped__() is None
    assert "No CJK font found" in caplog.text
    for draw in (charts.status_chart, charts.trend_chart, charts.industry_chart):
        assert png_size(draw(preliminary, None))[0] == 1264
    monkeypatch.setattr(charts, "cjk_font", lambda: None)
    mail = render_summary(preliminary)
    assert len(mail.images) == 3
    assert "报送率" in mail.html


def test_a_font_file_named_in_the_environment_that_is_missing_is_reported(monkeypatch, caplog, tmp_path):
    monkeypatch.setenv(charts.FONT_ENV, str(tmp_path / "missing.otf"))
    with caplog.at_level(logging.WARNING, logger=charts.__name__):
        files = charts._packaged_font_files()
    assert tmp_path / "missing.otf" not in files
    assert "is not a file" in caplog.text
