"""Report files saved by LibreOffice (tests/fixtures/reports/), parsed as the pipeline parses them.

Each file is the ministry's form (or the flat CSV) filled with ``sample_record()`` by
``report_builders`` and then opened and saved by LibreOffice Calc, so it carries what an office suite
writes and openpyxl does not: LibreOffice's own styles, shared strings, cached formula results. To
regenerate (only when the form or the sample record changes):

    soffice --headless --convert-to xlsx --outdir OUT form.xlsx
    soffice --headless --convert-to 'csv:Text - txt - csv (StarCalc):44,34,76,1' --outdir OUT form.xlsx
    soffice --headless --infilter='CSV:44,34,76,1' \
        --convert-to 'csv:Text - txt - csv (StarCalc):44,34,76,1' --outdir OUT flat.csv

``formula_count_libreoffice.xlsx`` is the form whose positions cell (B14) holds ``=98000+765``;
LibreOffice saved the formula with its result, and the product reads the saved result."""

import re
import zipfile
from pathlib import Path

import pytest
from report_builders import parse, sample_record

FIXTURES = Path(__file__).parent.parent / "fixtures" / "reports"
SAVED = [
    "sample_record_libreoffice.xlsx",
    "sample_record_libreoffice.csv",
    "sample_record_flat_libreoffice.csv",
    "formula_count_libreoffice.xlsx",
]


@pytest.mark.parametrize("name", SAVED)
def test_file_saved_by_libreoffice_parses_to_the_sample_record(name):
    result = parse((FIXTURES / name).read_bytes(), name)
    assert result.problems == []
    assert result.record == sample_record()


@pytest.mark.parametrize("name", [n for n in SAVED if n.endswith(".xlsx")])
def test_workbook_fixtures_were_written_by_libreoffice(name):
    with zipfile.ZipFile(FIXTURES / name) as archive:
        app = archive.read("docProps/app.xml").decode()
        assert "<Application>LibreOffice/" in app
        assert "xl/sharedStrings.xml" in archive.namelist()


def test_formula_count_is_read_from_its_saved_result():
    with zipfile.ZipFile(FIXTURES / "formula_count_libreoffice.xlsx") as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml").decode()
    cell = re.search(r'<c r="B14"[^>]*>(.*?)</c>', sheet)
    assert cell is not None
    assert "<f" in cell.group(1)
    assert "98000+765</f>" in cell.group(1)
    assert "<v>98765</v>" in cell.group(1)
    result = parse((FIXTURES / "formula_count_libreoffice.xlsx").read_bytes(), "周报.xlsx")
    assert result.record is not None
    assert result.record["positions"] == 98_765
