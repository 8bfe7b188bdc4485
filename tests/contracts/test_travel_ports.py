"""The file-system document store and the fixed exchange-rate table pass the travel
port contracts."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from bookingcore.testing.travel_contracts import ExchangeRatesContract, FileStoreContract
from bookingcore_adapters.exchange import FixedExchangeRates
from bookingcore_adapters.filestore import FileSystemDocumentStore


class TestFileSystemDocumentStore(FileStoreContract):
    """The document and file store contracts over a fresh directory."""

    @pytest.fixture
    def document_store(self, tmp_path: Path) -> FileSystemDocumentStore:
        return FileSystemDocumentStore(tmp_path / "documents")


class TestFixedExchangeRates(ExchangeRatesContract):
    """The exchange-rate contract over a table with one rate."""

    @pytest.fixture
    def exchange_rates(self) -> FixedExchangeRates:
        return FixedExchangeRates({("EUR", "INR"): Decimal("90.25")})

    @pytest.fixture
    def known_pair(self) -> tuple[str, str]:
        return ("INR", "EUR")  # read through the inverse of the table's rate

    @pytest.fixture
    def unknown_pair(self) -> tuple[str, str]:
        return ("INR", "KWD")
