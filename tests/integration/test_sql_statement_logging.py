"""Statements are logged without their parameters unless the store is told to log them:
parameters carry password and code hashes, tokens, webhook secrets and personal data."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy.exc import DBAPIError

from bookingcore.testing.builders import Builder
from bookingcore_adapters.sql import SqlStore

SECRET_NAME = "Secret Sunita 7f3a9c"


def _write_and_read(store: SqlStore) -> None:
    """A customer stored and read back by id: an insert and a look-up, with the name."""
    customer = Builder().customer(name=SECRET_NAME)
    with store.unit_of_work() as uow:
        uow.customers.add(customer)
        uow.commit()
    with store.unit_of_work() as uow:
        assert uow.customers.get(customer.id) is not None


def _logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "bookingcore.sql"]


@pytest.mark.postgres
def test_statements_sent_to_the_driver_are_logged_without_their_parameters(
    pg_store: SqlStore, caplog: pytest.LogCaptureFixture
) -> None:
    assert pg_store.pipelined  # the store sends its look-ups and writes straight to psycopg
    with caplog.at_level(logging.DEBUG, logger="bookingcore.sql"):
        _write_and_read(pg_store)
    logged = _logged(caplog)
    assert any(message.startswith("INSERT INTO customers") for message in logged)
    assert any(message.startswith("SELECT") for message in logged)
    assert not [message for message in logged if SECRET_NAME in message]


@pytest.mark.postgres
def test_log_parameters_logs_the_statements_with_their_parameters(
    pg_store: SqlStore, caplog: pytest.LogCaptureFixture
) -> None:
    store = SqlStore(pg_store.engine, log_parameters=True)
    with caplog.at_level(logging.DEBUG, logger="bookingcore.sql"):
        _write_and_read(store)
    logged = _logged(caplog)
    assert any(m.startswith("INSERT INTO customers") and SECRET_NAME in m for m in logged)


def test_an_error_on_an_engine_built_from_a_url_does_not_name_its_parameters() -> None:
    store = SqlStore("sqlite://")
    with store.engine.connect() as connection, pytest.raises(DBAPIError) as raised:
        connection.exec_driver_sql("SELECT * FROM no_such_table WHERE name = ?", (SECRET_NAME,))
    assert "no_such_table" in str(raised.value)
    assert SECRET_NAME not in str(raised.value)
    store.dispose()


def test_an_engine_built_from_a_url_does_not_echo_parameters(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = SqlStore("sqlite://", echo=True)
    store.create_schema()
    with caplog.at_level(logging.INFO, logger="sqlalchemy.engine"):
        _write_and_read(store)
    echoed = [r.getMessage() for r in caplog.records if r.name.startswith("sqlalchemy.engine")]
    assert any("INSERT INTO customers" in message for message in echoed)
    assert not [message for message in echoed if SECRET_NAME in message]
    store.dispose()


def test_log_parameters_lets_an_engine_built_from_a_url_echo_them(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = SqlStore("sqlite://", echo=True, log_parameters=True)
    store.create_schema()
    with caplog.at_level(logging.INFO, logger="sqlalchemy.engine"):
        _write_and_read(store)
    echoed = [r.getMessage() for r in caplog.records if r.name.startswith("sqlalchemy.engine")]
    assert [message for message in echoed if SECRET_NAME in message]
    store.dispose()
