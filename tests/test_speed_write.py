"""The writer's one-call write (issue 18): a short write goes on until every byte is written."""

from __future__ import annotations

import os

from jcnrc.output import write


def test_a_short_write_is_continued(tmp_path, monkeypatch):
    real = os.write
    calls = []

    def short(fd, data):
        calls.append(len(data))
        return real(fd, bytes(data[:7]))

    monkeypatch.setattr(os, "write", short)
    data = bytes(range(256)) * 3
    write._write_file(str(tmp_path / "f"), data)
    assert (tmp_path / "f").read_bytes() == data
    assert len(calls) == -(-len(data) // 7)


def test_a_whole_tree_is_written_with_one_write_per_file(tmp_path, monkeypatch):
    real = os.write
    calls = []
    monkeypatch.setattr(os, "write", lambda fd, data: calls.append(1) or real(fd, data))
    files = {f"manifests/pod-{i}.yaml": f"kind: Pod\nname: pod-{i}\n" * 100 for i in range(50)}
    write.write_tree(files, tmp_path / "out")
    assert len(calls) == len(files) + 1  # and the list of owned files
    assert all((tmp_path / "out" / path).read_text() == text for path, text in files.items())
