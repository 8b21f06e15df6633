"""`make bench` still runs: a tiny size and two exports produce the whole table (no timing is
asserted; the figures are for people to compare)."""

from __future__ import annotations

import re

from benchmarks import run


def test_benchmark_prints_every_page_with_statements_and_the_exports(monkeypatch, capsys):
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    report = run.main(["--sizes", "20", "--exports", "2", "--requests", "2", "--warmup", "1",
                       "--cdc-sizes", "20"])

    assert report == capsys.readouterr().out.strip()
    for (page,) in run.PAGE_ORDER:
        row = re.search(rf"^\| {re.escape(page)} \| 20 \| [\d.]+ \| [\d.]+ \| (\d+)(-\d+)? \| "
                        r"[\d,]+ \| [\d,]+ \| 2 \|$", report, re.MULTILINE)
        assert row, page
        assert int(row.group(1)) > 0
    assert "synced 2, failed 0" in report
    assert re.search(r"QuickBooks calls: \d+, [\d.]+ an export", report)
    # the change data capture poll: a full first read, then one call a poll
    assert re.search(r"^\| 20 \| first poll \(full read\) \| [\d.]+ \| 1 \| 20 \|$", report,
                     re.MULTILINE)
    assert re.search(r"^\| 20 \| 10 POs changed in QuickBooks \| [\d.]+ \| 1 \| 10 \|$", report,
                     re.MULTILINE)
    # CCO exports onto POs QuickBooks holds as our last write left them: one call each
    assert "CCO exports: 2 CCOs" in report
    assert re.search(r"QuickBooks calls: 2 = 1\.00 a CCO export", report)
    assert report.count("PASS") + report.count("FAIL") == len(run.PAGE_ORDER) + 3
