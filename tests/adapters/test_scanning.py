"""``ClamdScanner`` against a local fake clamd speaking INSTREAM; ``NoScanner``."""

from __future__ import annotations

import socket
import struct
from pathlib import Path

import pytest
from tests.adapters._fake_clamd import SIGNATURE, fake_clamd

from bookingcore.ports import FileScanError, FileScanner, InfectedFileError, ScanResult
from bookingcore_adapters.scanning import ClamdScanner, NoScanner


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


class TestClamdScanner:
    def test_a_clean_file_is_streamed_in_length_prefixed_chunks_and_found_clean(self) -> None:
        content = b"customer_name,customer_phone\n" + b"x" * 2500
        with fake_clamd() as clamd:
            scanner: FileScanner = ClamdScanner(clamd.host, clamd.port, chunk_size=1000)
            result = scanner.scan(content)
        assert result == ScanResult()
        assert result.clean
        assert clamd.commands == [b"zINSTREAM\0"]
        assert clamd.chunk_sizes == [[1000, 1000, 529, 0]]
        assert clamd.contents == [content]

    def test_an_infected_file_on_disk_is_named_by_its_threat(self, tmp_path: Path) -> None:
        path = tmp_path / "bookings.csv"
        path.write_bytes(b"name,phone\n" + SIGNATURE + b"\n")
        with fake_clamd() as clamd:
            result = ClamdScanner(clamd.host, clamd.port, chunk_size=16).scan(path)
        assert not result.clean
        assert result.threat == "Eicar-Test-Signature"
        assert clamd.contents == [path.read_bytes()]

    def test_a_file_past_clamds_stream_limit_is_a_scan_error_not_clean(self) -> None:
        with fake_clamd(max_length=100) as clamd:
            scanner = ClamdScanner(clamd.host, clamd.port, chunk_size=64)
            with pytest.raises(FileScanError, match="size limit exceeded"):
                scanner.scan(b"y" * 10_000)

    def test_no_clamd_listening_is_a_scan_error(self) -> None:
        scanner = ClamdScanner("127.0.0.1", _free_port(), timeout=2)
        with pytest.raises(FileScanError, match="could not scan") as raised:
            scanner.scan(b"a,b\n")
        assert raised.value.code == "scan_failed"

    def test_an_empty_file_is_one_zero_length_chunk(self) -> None:
        with fake_clamd() as clamd:
            assert ClamdScanner(clamd.host, clamd.port).scan(b"").clean
        assert clamd.chunk_sizes == [[0]]
        assert struct.pack(">I", 0) == b"\0\0\0\0"

    def test_a_chunk_size_must_be_positive(self) -> None:
        with pytest.raises(ValueError, match="chunk_size"):
            ClamdScanner(chunk_size=0)


def test_no_scanner_finds_everything_clean() -> None:
    assert NoScanner().scan(SIGNATURE) == ScanResult()


def test_an_infected_file_error_is_a_validation_error_on_file() -> None:
    error = InfectedFileError("Eicar-Test-Signature")
    assert [(e.field, e.code) for e in error.errors] == [("file", "infected")]
    assert error.threat == "Eicar-Test-Signature"
