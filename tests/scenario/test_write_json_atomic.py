"""``write_json`` is atomic: a reader that waits for the file sees all of it or nothing."""

from __future__ import annotations

import json
import threading

from lgwan_sim.scenario import write_json


def test_a_reader_waiting_for_the_file_never_reads_it_half_written(tmp_path):
    doc = {"broker": "tcp://127.0.0.1:1", "rows": [f"row-{i}" * 20 for i in range(100_000)]}
    path = tmp_path / "endpoints.json"
    partial: list[int] = []
    reads = 0
    done = threading.Event()

    def watch() -> None:
        nonlocal reads
        while True:
            last = done.is_set()  # one more read after the last write, so reads > 0
            try:
                text = path.read_text(encoding="utf-8")
            except FileNotFoundError:  # between two writes the test itself unlinks it
                text = None
            if text is not None:
                reads += 1
                try:
                    json.loads(text)
                except ValueError:
                    partial.append(len(text))
            if last:
                return

    reader = threading.Thread(target=watch)
    reader.start()
    try:
        for _ in range(5):
            path.unlink(missing_ok=True)
            write_json(path, doc)
    finally:
        done.set()
        reader.join()
    assert json.loads(path.read_text(encoding="utf-8")) == doc
    assert reads > 0
    assert partial == [], f"{len(partial)} of {reads} reads saw a partial file"
    assert [p.name for p in tmp_path.iterdir()] == ["endpoints.json"]  # no temp file left
