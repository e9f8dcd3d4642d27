import logging

from sweeps_core import Logger


def test_logger_writes_through_logging_and_can_be_disabled(caplog):
    Logger.enable()
    with caplog.at_level(logging.INFO, logger="sweeps_core"):
        Logger.info("hello")
        Logger.disable()
        Logger.info("muted")
        Logger.enable()
    messages = [r.getMessage() for r in caplog.records]
    assert any("hello" in m for m in messages)
    assert not any("muted" in m for m in messages)
