"""The provenance page's pieces, on small inputs (the built page is checked in test_site)."""

from __future__ import annotations

from types import SimpleNamespace

from book_site import provenance


def test_the_seeds_a_chapter_uses_are_read_from_its_calls():
    source = "g = seeds.generator(3)\nseeds.manual_seed(0)\ntrain(seed=seeds.seed(12))\nseeds.generator( 3)"
    assert provenance.seeds_used(source) == [0, 3, 12]


def test_a_measured_block_reports_its_time_and_its_childrens_memory():
    import subprocess
    import sys

    with provenance.measured() as numbers:
        child = subprocess.Popen(
            [sys.executable, "-c", "x = bytearray(50_000_000); import time; time.sleep(0.5)"]
        )
        child.wait()
    assert 0.5 <= numbers["seconds"] < 30
    assert numbers["peak_mib"] > 40  # the child's 50 MB buffer, seen while it slept


def test_blocks_measured_at_once_each_report_their_own_childs_memory():
    """Chapters execute in parallel threads: each must report its own kernel's memory."""
    import subprocess
    import sys
    import threading

    results: dict[int, dict[str, float]] = {}

    def run(megabytes: int) -> None:
        with provenance.measured() as numbers:
            child = subprocess.Popen(
                [sys.executable, "-c",
                 f"x = bytearray({megabytes} * 2**20); import time; time.sleep(1.5)"]
            )  # fmt: skip
            child.wait()
        results[megabytes] = numbers

    threads = [threading.Thread(target=run, args=(mb,)) for mb in (20, 300)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # A Python interpreter alone is about 10-20 MiB: each block sees its child's buffer
    # and not the other one's (whose 300 MiB would dominate the small block's number).
    assert 20 < results[20]["peak_mib"] < 120
    assert 300 < results[300]["peak_mib"] < 420


def test_runs_are_kept_beside_the_cache_and_the_page_says_where_they_came_from(tmp_path):
    chapter = tmp_path / "chapters" / "01_x.py"
    chapter.parent.mkdir()
    chapter.write_text("g = seeds.generator(5)\n", encoding="utf-8")
    provenance.record_run(
        tmp_path / "cache", "chapters/01_x.py", {"seconds": 12.34, "peak_mib": 456.7}
    )
    files = [SimpleNamespace(src_uri="chapters/01_x.py", abs_src_path=str(chapter))]
    executed_now = provenance.chapter_rows(files, {"chapters/01_x.py"}, tmp_path / "cache", 0)
    assert executed_now == [
        ["<code>chapters/01_x.py</code>", "12.3 s", "457 MiB", "5", "executed by this build"]
    ]
    cached = provenance.chapter_rows(files, set(), tmp_path / "cache", 2)
    assert cached[0][3] == "2005" and cached[0][4].startswith("from the cache (run ")


def test_the_marker_is_replaced_in_the_built_page(tmp_path):
    site = tmp_path / "site"
    (site / "provenance").mkdir(parents=True)
    (site / "provenance" / "index.html").write_text(f"<p>x</p>{provenance.MARKER}<p>y</p>")
    config = SimpleNamespace(
        site_dir=str(site), extra={"notebook_pin": "abc123", "repository": "o/r"}
    )
    assert provenance.write_page(config, [], set(), tmp_path / "cache")
    page = (site / "provenance" / "index.html").read_text()
    assert provenance.MARKER not in page
    assert "<code>abc123</code>" in page and "git checkout abc123" in page
    assert "torch" in page and "Python" in page
