"""Contract suites for the travel ports: where documents' files are kept, and exchange rates.

Subclass a contract in a class whose name starts with ``Test`` and provide its
fixtures::

    class TestMyDocumentStore(DocumentStoreContract):
        @pytest.fixture
        def document_store(self):
            return MyBucketStore(...)  # fresh and empty

    class TestMyRates(ExchangeRatesContract):
        @pytest.fixture
        def exchange_rates(self):
            return MyBankFeed(...)

        @pytest.fixture
        def known_pair(self):
            return ("EUR", "INR")  # a pair your adapter has a rate for

        @pytest.fixture
        def unknown_pair(self):
            return ("INR", "KWD")  # a pair it has none for

:class:`~bookingcore_adapters.filestore.FileSystemDocumentStore` and
:class:`~bookingcore_adapters.exchange.FixedExchangeRates` run exactly these suites.

.. versionadded:: 0.3
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from bookingcore.errors import NotFoundError, ValidationError
from bookingcore.ports.documents import DocumentStore, FileStore
from bookingcore.ports.exchange import ExchangeRates

__all__ = ["DocumentStoreContract", "ExchangeRatesContract", "FileStoreContract"]

#: Bytes no text codec round-trips by accident: a PDF header and every byte value.
_BINARY = b"%PDF-1.7\n" + bytes(range(256))


class DocumentStoreContract:
    """What every :class:`~bookingcore.ports.DocumentStore` does.

    Needs a ``document_store`` fixture: a fresh, empty store.

    .. versionadded:: 0.3
    """

    def test_content_read_back_is_the_bytes_kept(self, document_store: DocumentStore) -> None:
        where = document_store.put("BK-1/voucher-1-v1.pdf", _BINARY, media_type="application/pdf")
        text = "Itinérary ₹\n".encode()
        document_store.put("BK-1/itinerary-v1.txt", text, media_type="text/plain")
        assert isinstance(where, str)
        assert where
        assert document_store.get("BK-1/voucher-1-v1.pdf") == _BINARY
        assert document_store.get("BK-1/itinerary-v1.txt") == text

    def test_keys_are_apart_and_a_key_written_again_is_replaced(
        self, document_store: DocumentStore
    ) -> None:
        document_store.put("BK-1/quotation-v1.txt", b"first", media_type="text/plain")
        document_store.put("BK-2/quotation-v1.txt", b"other", media_type="text/plain")
        document_store.put("BK-1/quotation-v1.txt", b"second", media_type="text/plain")
        assert document_store.get("BK-1/quotation-v1.txt") == b"second"
        assert document_store.get("BK-2/quotation-v1.txt") == b"other"

    def test_an_empty_file_is_kept(self, document_store: DocumentStore) -> None:
        document_store.put("BK-1/empty-v1.txt", b"", media_type="text/plain")
        assert document_store.get("BK-1/empty-v1.txt") == b""

    def test_a_key_never_written_is_not_found(self, document_store: DocumentStore) -> None:
        document_store.put("BK-1/voucher-1-v1.txt", b"x", media_type="text/plain")
        with pytest.raises(NotFoundError):
            document_store.get("BK-1/voucher-1-v2.txt")
        with pytest.raises(NotFoundError):
            document_store.get("BK-9/voucher-1-v1.txt")


class FileStoreContract(DocumentStoreContract):
    """What every :class:`~bookingcore.ports.FileStore` does: a document store that
    deletes, idempotently.

    Needs a ``document_store`` fixture: a fresh, empty store.

    .. versionadded:: 0.4
    """

    def test_a_deleted_key_is_gone_and_deleting_it_again_is_no_error(
        self, document_store: FileStore
    ) -> None:
        document_store.put("job-1.import", b"a,b\n", media_type="text/csv")
        document_store.put("job-2.import", b"c,d\n", media_type="text/csv")
        assert document_store.delete("job-1.import") is True
        with pytest.raises(NotFoundError):
            document_store.get("job-1.import")
        assert document_store.delete("job-1.import") is False
        assert document_store.delete("never-written.import") is False
        assert document_store.get("job-2.import") == b"c,d\n"

    def test_a_key_written_after_its_delete_is_kept_again(self, document_store: FileStore) -> None:
        document_store.put("job-1.import", b"first", media_type="text/csv")
        document_store.delete("job-1.import")
        document_store.put("job-1.import", b"again", media_type="text/csv")
        assert document_store.get("job-1.import") == b"again"


class ExchangeRatesContract:
    """What every :class:`~bookingcore.ports.ExchangeRates` does.

    Needs the fixtures ``exchange_rates`` (the adapter), ``known_pair`` (a
    ``(source, target)`` it has a rate for) and ``unknown_pair`` (one it has none for).

    .. versionadded:: 0.3
    """

    ON = date(2026, 3, 1)

    def test_a_currency_is_worth_one_of_itself(
        self, exchange_rates: ExchangeRates, known_pair: tuple[str, str]
    ) -> None:
        for currency in known_pair:
            rate = exchange_rates.rate(currency, currency, on=self.ON)
            assert isinstance(rate, Decimal)
            assert rate == 1

    def test_a_known_rate_is_a_positive_decimal_never_a_float(
        self, exchange_rates: ExchangeRates, known_pair: tuple[str, str]
    ) -> None:
        source, target = known_pair
        rate = exchange_rates.rate(source, target, on=self.ON)
        assert type(rate) is Decimal
        assert rate.is_finite()
        assert rate > 0
        assert exchange_rates.rate(source, target, on=self.ON) == rate

    def test_a_pair_without_a_rate_is_refused_on_currency(
        self, exchange_rates: ExchangeRates, unknown_pair: tuple[str, str]
    ) -> None:
        source, target = unknown_pair
        with pytest.raises(ValidationError) as refused:
            exchange_rates.rate(source, target, on=self.ON)
        assert refused.value.fields == ("currency",)
