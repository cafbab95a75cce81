"""Chunked-upload reassembly: order, limits, timeouts, and byte-exact audio."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.osc.uploads import MAX_OPEN_UPLOADS, MAX_UPLOAD_CLIENTS, MAX_UPLOAD_ID, UploadError, Uploads, parse_upload_id


def _send(uploads: Uploads, upload_id: int, payload: bytes, chunk: int, now: float = 0.0) -> None:
    for offset in range(0, len(payload), chunk):
        uploads.chunk(upload_id, offset, payload[offset:offset + chunk], now)


@given(samples=st.integers(1, 3000), chunk=st.integers(1, 5000))
def test_reassembles_any_chunking_exactly(samples: int, chunk: int) -> None:
    audio = np.sin(np.arange(samples, dtype=np.float32) * 0.01).astype(np.float32)
    uploads = Uploads(limit=1 << 20, timeout_s=30)
    uploads.begin(7, audio.nbytes, 22050, now=0.0)
    _send(uploads, 7, audio.astype("<f4").tobytes(), chunk)
    finished = uploads.end(7)
    assert finished.upload_id == 7 and finished.sample_rate == 22050
    assert finished.audio.dtype == np.float32
    np.testing.assert_array_equal(finished.audio, audio)
    assert len(uploads) == 0


def test_out_of_order_chunk_names_the_expected_offset() -> None:
    uploads = Uploads(limit=1024, timeout_s=30)
    uploads.begin(1, 16, 44100, now=0.0)
    assert uploads.chunk(1, 0, b"\0" * 8, now=0.0) == 8
    with pytest.raises(UploadError, match="upload 1: chunk at offset 12, expected 8 .*resend from 8"):
        uploads.chunk(1, 12, b"\0" * 4, now=0.0)
    with pytest.raises(UploadError, match="upload 1: incomplete, 8 of 16 B received; send the chunk at offset 8"):
        uploads.end(1)
    uploads.chunk(1, 8, b"\0" * 8, now=0.0)  # still open after the refusals
    assert uploads.end(1).audio.shape == (4,)


def test_oversized_uploads_are_refused() -> None:
    uploads = Uploads(limit=1024, timeout_s=30)
    with pytest.raises(UploadError, match=r"upload 2: total 2048 B, range 4..1024 B .*--upload-limit"):
        uploads.begin(2, 2048, 22050, now=0.0)
    with pytest.raises(UploadError, match="total 10 B is not a whole number of float32 samples"):
        uploads.begin(2, 10, 22050, now=0.0)
    with pytest.raises(UploadError, match="sample rate 100 Hz, range 8000..192000 Hz"):
        uploads.begin(2, 8, 100, now=0.0)
    uploads.begin(3, 8, 22050, now=0.0)
    with pytest.raises(UploadError, match="chunk ends at 12 B, past the announced 8 B; upload dropped"):
        uploads.chunk(3, 0, b"\0" * 12, now=0.0)
    with pytest.raises(UploadError, match="upload 3: no such upload open"):
        uploads.end(3)


def test_unknown_ids_and_too_many_open() -> None:
    uploads = Uploads(limit=1024, timeout_s=30, per_client=MAX_OPEN_UPLOADS + 1)
    with pytest.raises(UploadError, match="upload 9: no such upload open .*send /dexbridge/upload/begin first"):
        uploads.chunk(9, 0, b"\0", now=0.0)
    for upload_id in range(MAX_OPEN_UPLOADS):
        uploads.begin(upload_id, 8, 22050, now=0.0)
    uploads.begin(0, 16, 22050, now=0.0)  # re-beginning an open id replaces it
    with pytest.raises(UploadError, match=f"^upload 100: {MAX_OPEN_UPLOADS} uploads already open \\(a client's second one "
                                          f"waits while {MAX_OPEN_UPLOADS} are open in all\\); end or let one expire first$"):
        uploads.begin(100, 8, 22050, now=0.0)


def test_idle_uploads_expire() -> None:
    uploads = Uploads(limit=1024, timeout_s=5)
    assert uploads.next_expiry() is None
    uploads.begin(1, 8, 22050, now=0.0)
    uploads.begin(2, 8, 22050, now=0.0)
    uploads.chunk(2, 0, b"\0" * 4, now=4.0)
    assert uploads.next_expiry() == 5.0
    assert uploads.expire(now=4.9) == []
    assert uploads.expire(now=5.0) == [("", 1)]
    assert uploads.next_expiry() == 9.0
    assert uploads.expire(now=9.0) == [("", 2)]
    assert len(uploads) == 0 and uploads.next_expiry() is None


def test_each_client_has_its_ids_and_its_share() -> None:
    uploads = Uploads(limit=1024, timeout_s=30, per_client=2)
    uploads.begin(1, 8, 22050, now=0.0, client="10.0.0.7")
    uploads.begin(2, 8, 22050, now=0.0, client="10.0.0.7")
    with pytest.raises(UploadError, match=r"upload 3: 2 uploads already open from 10.0.0.7 \(at most 2 per client, "
                                          r"--client-uploads\); end or let one expire first"):
        uploads.begin(3, 8, 22050, now=0.0, client="10.0.0.7")
    uploads.begin(1, 4, 22050, now=0.0, client="10.0.0.8")  # the same id from another client: its own upload
    uploads.chunk(1, 0, b"\0" * 4, now=0.0, client="10.0.0.8")
    assert uploads.end(1, client="10.0.0.8").audio.shape == (1,)
    with pytest.raises(UploadError, match="upload 1: incomplete, 0 of 8 B"):
        uploads.end(1, client="10.0.0.7")
    with pytest.raises(UploadError, match="upload 2: no such upload open"):
        uploads.end(2, client="10.0.0.8")


def test_a_few_clients_holding_several_uploads_leave_places_for_newcomers() -> None:
    uploads = Uploads(limit=1024, timeout_s=30, per_client=2)
    for host in range(1, 5):  # two each from four clients: every place of the total
        for upload_id in (1, 2):
            uploads.begin(upload_id, 8, 22050, now=0.0, client=f"127.0.0.{host}")
    assert len(uploads) == MAX_OPEN_UPLOADS
    with pytest.raises(UploadError, match=r"^upload 3: 2 uploads already open from 127.0.0.1 \(at most 2 per client"):
        uploads.begin(3, 8, 22050, now=0.0, client="127.0.0.1")
    for host in range(5, MAX_UPLOAD_CLIENTS + 1):  # a newcomer still gets one
        uploads.begin(1, 8, 22050, now=0.0, client=f"127.0.0.{host}")
        with pytest.raises(UploadError, match=f"^upload 2: {len(uploads)} uploads already open \\(a client's second one"):
            uploads.begin(2, 8, 22050, now=0.0, client=f"127.0.0.{host}")
    with pytest.raises(UploadError) as refused:
        uploads.begin(1, 8, 22050, now=0.0, client="127.0.0.99")
    assert str(refused.value) == (f"upload 1: {MAX_UPLOAD_CLIENTS} clients already have uploads open (at most "
                                  f"{MAX_UPLOAD_CLIENTS}); retry when one of theirs ends or expires")
    assert len(uploads) == MAX_OPEN_UPLOADS + MAX_UPLOAD_CLIENTS - 4
    uploads.expire(now=30.0)
    uploads.begin(1, 8, 22050, now=30.0, client="127.0.0.99")


def test_upload_ids_are_plain_numbers_in_range() -> None:
    assert parse_upload_id("0") == 0 and parse_upload_id("0042") == 42 and parse_upload_id(str(MAX_UPLOAD_ID)) == MAX_UPLOAD_ID
    for text, shown in (("²", "'²'"), ("-1", "'-1'"), ("", "''"), ("4 2", "'4 2'"), (str(MAX_UPLOAD_ID + 1), "'2147483648'"),
                        ("9" * 5000, "'99999999999999999999'... (5000 characters)")):
        with pytest.raises(UploadError) as refused:
            parse_upload_id(text)
        assert str(refused.value) == (f"upload id {shown}: not a whole number in 0..{MAX_UPLOAD_ID} (the id "
                                      f"/dexbridge/upload/begin gave)")
    with pytest.raises(UploadError, match=f"^upload -5: id out of range 0..{MAX_UPLOAD_ID}$"):
        Uploads(limit=1024, timeout_s=30).begin(-5, 8, 22050, now=0.0)
