"""A signal (Ctrl-C, Prefect's SIGTERM) that py4j turns into a Spark error is not blamed on the
file being landed (extract_load.ingest_file.signal_behind)."""

from __future__ import annotations

from extract_load import ingest_file


def test_a_signal_behind_a_spark_error_is_not_blamed_on_the_file():
    class Terminated(BaseException):  # what Prefect raises on SIGTERM is a BaseException too
        pass

    def spark_error_while_handling(signal_exc: BaseException) -> TypeError:
        try:
            try:
                raise signal_exc
            except BaseException:  # py4j's next call reads the interrupted call's answer
                raise TypeError("'JavaObject' object is not callable") from None
        except TypeError as exc:
            return exc

    terminated = Terminated()
    assert ingest_file.signal_behind(spark_error_while_handling(terminated)) is terminated
    wrapped = RuntimeError("landing failed")
    wrapped.__cause__ = spark_error_while_handling(KeyboardInterrupt())
    assert isinstance(ingest_file.signal_behind(wrapped), KeyboardInterrupt)
    assert ingest_file.signal_behind(ValueError("a bad file")) is None
