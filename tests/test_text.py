"""Text across trust boundaries: control characters, header-safe lines, file names in any encoding."""

from recruitment_month import text


def test_strip_control_keeps_tabs_and_line_breaks():
    assert text.strip_control("a\x00b\x07c\td\ne\rf\x7fg\x85h") == "abc\td\ne\rfgh"
    assert text.has_control("标题\x00")
    assert not text.has_control("第一行\n第二行\t")


def test_one_line_removes_every_break_and_cuts():
    assert text.one_line("周报\r\nBcc: x@example.org\u2028.xlsx") == "周报 Bcc: x@example.org .xlsx"
    assert text.one_line("a" * 300, limit=10) == "a" * 9 + "…"


def test_file_name_from_gbk_bytes_and_surrogate_escapes():
    gbk = "北京周报.xlsx".encode("gbk")
    assert text.file_name(gbk) == "北京周报.xlsx"
    assert text.file_name(gbk.decode("utf-8", "surrogateescape")) == "北京周报.xlsx"
    assert text.file_name("正常.csv") == "正常.csv"
    assert "\ufffd" in text.file_name(b"\xff\xfe\x80")
