"""Staged uploads have a quota per owner: staging one more drops that owner's oldest, by
count and by bytes; the one just staged, other owners' and claimed ones stay."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from pimhub.transfer import staging
from pimhub.transfer.staging import (
    STAGED_FOR,
    AlreadyStarted,
    ClaimedUpload,
    StagedUploads,
    UnknownUpload,
)


def _stage(staged: StagedUploads, owner: str, n: int, size: int = 10) -> str:
    reference = staged.stage(owner, f"f{n}.csv", lambda p: p.write_bytes(b"x" * size))
    # Distinct ages however fast the machine: upload n happened n minutes after 0.
    moment = 1_700_000_000 + 60 * n
    os.utime(staged.path(owner, reference).parent, (moment, moment))
    return reference


def _kept(staged: StagedUploads, owner: str, references: list[str]) -> list[int]:
    kept = []
    for n, reference in enumerate(references):
        try:
            staged.path(owner, reference)
        except UnknownUpload:
            continue
        kept.append(n)
    return kept


def past_in_use() -> float:
    """An hour after the uploads _stage dates: past the time a preview may still read them,
    well within the day an unused upload is kept."""
    return 1_700_000_000 + 3600.0


def test_uploads_a_preview_may_still_read_are_spared_by_the_quota(tmp_path: Path) -> None:
    staged = StagedUploads(tmp_path, max_uploads=2)
    references = [
        staged.stage("cm", f"f{n}.csv", lambda p: p.write_text("a\n1\n")) for n in range(4)
    ]
    assert all(staged.path("cm", r).exists() for r in references)


def test_an_owner_keeps_at_most_max_uploads_the_oldest_dropped(tmp_path: Path) -> None:
    staged = StagedUploads(tmp_path, clock=past_in_use, max_uploads=3)
    other = _stage(staged, "bob", 0)
    ann = [_stage(staged, "ann", n) for n in range(1, 6)]
    assert _kept(staged, "ann", ann) == [2, 3, 4]
    assert staged.path("bob", other).name == "f0.csv"  # not ann's quota


def test_an_owner_keeps_at_most_max_bytes_the_newest_always(tmp_path: Path) -> None:
    staged = StagedUploads(tmp_path, clock=past_in_use, max_bytes=250)
    ann = [_stage(staged, "ann", n, 100) for n in range(3)]
    assert _kept(staged, "ann", ann) == [1, 2]
    big = _stage(staged, "ann", 3, 400)  # over the quota alone: still kept, the rest dropped
    assert _kept(staged, "ann", [*ann, big]) == [3]


def test_a_claimed_upload_is_not_dropped_nor_counted(tmp_path: Path) -> None:
    staged = StagedUploads(tmp_path, clock=past_in_use, max_uploads=2)
    first = _stage(staged, "ann", 0)
    claimed = staged.claim("ann", first)
    later = [_stage(staged, "ann", n) for n in range(1, 3)]
    assert claimed.file.exists()
    assert _kept(staged, "ann", later) == [0, 1]


@pytest.mark.parametrize("count", [1, 2])
def test_within_the_quota_nothing_is_dropped(tmp_path: Path, count: int) -> None:
    staged = StagedUploads(tmp_path, clock=past_in_use, max_uploads=2)
    ann = [_stage(staged, "ann", n) for n in range(count)]
    assert _kept(staged, "ann", ann) == list(range(count))


def test_a_loser_whose_winner_finishes_between_its_checks_is_told_the_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A parallel Run that reads no marker, then finds the claimed folder gone (the winner
    wrote the marker and dropped its folder in between), is told the job, not 'gone'."""
    staged = StagedUploads(tmp_path)
    reference = staged.stage("ann", "a.csv", lambda p: p.write_text("sku\nA\n"))
    winner = staged.claim("ann", reference)
    winner.save(tmp_path / "job.csv")
    exists = Path.exists

    def winner_finishes_first(path: Path, **kwargs: bool) -> bool:
        if path == winner.folder and path.is_dir():
            winner.started("imp_raced")  # the marker, then the folder gone
        return exists(path, **kwargs)

    monkeypatch.setattr(Path, "exists", winner_finishes_first)
    with pytest.raises(AlreadyStarted) as told:
        staged.claim("ann", reference)
    assert told.value.job_id == "imp_raced"


def test_a_preview_path_read_while_a_parallel_run_claims_it_is_told_the_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Run that finds the upload's folder, then lists it after a parallel Run renamed it
    (claimed) is told the job it became: never a FileNotFoundError, which was a 500."""
    staged = StagedUploads(tmp_path)
    reference = staged.stage("ann", "a.csv", lambda p: p.write_text("sku\nA\n"))
    folder = staged.path("ann", reference).parent
    winner = staged.claim("ann", reference)
    winner.save(tmp_path / "job.csv")
    winner.started("imp_parallel")
    is_dir = Path.is_dir

    def still_there_when_checked(path: Path) -> bool:
        return True if path == folder else is_dir(path)

    # The folder was there when looked at; it is gone when listed.
    monkeypatch.setattr(Path, "is_dir", still_there_when_checked)
    with pytest.raises(AlreadyStarted) as told:
        staged.path("ann", reference)
    assert told.value.job_id == "imp_parallel"


def test_a_claim_of_an_upload_a_parallel_quota_sweep_empties_is_told_it_is_gone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A parallel stage's quota sweep opened the upload's folder to drop it; the Run renamed
    (claimed) it; the sweep then removed the file from the folder it held open. The Run is
    told the upload is gone (it was a StopIteration from the empty folder, a 500), and no
    claimed folder is left behind."""
    staged = StagedUploads(tmp_path)
    reference = staged.stage("ann", "a.csv", lambda p: p.write_text("sku\nA\n"))
    file = staged.path("ann", reference)
    rename = os.rename

    def swept_after_the_rename(source: Path, target: Path) -> None:
        rename(source, target)
        (Path(target) / file.name).unlink()  # the sweep's unlink through its open folder

    monkeypatch.setattr(os, "rename", swept_after_the_rename)
    with pytest.raises(UnknownUpload, match="no longer on the server"):
        staged.claim("ann", reference)
    assert list(file.parent.parent.iterdir()) == []


def test_an_old_upload_claimed_just_now_is_not_swept_as_stale(tmp_path: Path) -> None:
    """A Run claims an upload just short of STAGED_FOR; a parallel stage sweeps stale
    uploads before the job has moved the file out: the claimed folder is the job's now
    (sweeping it failed the job with 'the file could not be stored')."""
    staged = StagedUploads(tmp_path)
    reference = staged.stage("ann", "a.csv", lambda p: p.write_text("sku\nA\n"))
    folder = staged.path("ann", reference).parent
    long_ago = time.time() - STAGED_FOR - 60
    os.utime(folder, (long_ago, long_ago))  # uploaded a day ago (the rename sets the ctime)
    claimed = staged.claim("ann", reference)
    staged.stage("bob", "b.csv", lambda p: p.write_text("sku\nB\n"))  # sweeps stale ones
    claimed.save(tmp_path / "job.csv")
    assert (tmp_path / "job.csv").read_text() == "sku\nA\n"


def test_a_quota_sweep_and_a_run_never_both_have_an_upload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A parallel stage's quota sweep has opened an old upload's folder to delete it when a
    Run claims that upload: either the Run is told it is gone, or it has the file and keeps
    it. (Deleted in place, the sweep emptied the folder under the claim, and the job found
    no file.)"""
    staged = StagedUploads(tmp_path, clock=past_in_use, max_uploads=1)
    old = _stage(staged, "ann", 0)
    rmtree = shutil.rmtree
    claims: list[ClaimedUpload | UnknownUpload] = []

    def run_claims_while_the_sweep_holds_the_folder(path: Path, **kwargs: Any) -> None:
        fd = os.open(path, os.O_RDONLY)  # as rmtree does before it unlinks
        try:
            if not claims:
                try:
                    claims.append(staged.claim("ann", old))
                except UnknownUpload as gone:
                    claims.append(gone)
            for name in os.listdir(fd):
                os.unlink(name, dir_fd=fd)
        finally:
            os.close(fd)
        rmtree(path, **kwargs)

    monkeypatch.setattr(staging.shutil, "rmtree", run_claims_while_the_sweep_holds_the_folder)
    _stage(staged, "ann", 1)  # over the quota of one: the sweep drops the oldest
    monkeypatch.undo()
    assert claims, "the sweep never dropped the old upload"
    if isinstance(claims[0], ClaimedUpload):
        claims[0].save(tmp_path / "job.csv")
        assert (tmp_path / "job.csv").read_bytes() == b"x" * 10
