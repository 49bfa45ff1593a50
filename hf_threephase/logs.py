"""Notices that libraries log as warnings although a run here causes them by design, moved to info level."""

import logging

# (logger, message start) of notices a 3-Phase run triggers by design.
BY_DESIGN = (
    # the Trainer copies the tokenizer's special-token ids into a fresh 3-Phase config (which has none of its own)
    ("transformers.trainer_utils", "The tokenizer has new PAD/BOS/EOS tokens"),
)


class InfoLevel(logging.Filter):
    """Logs the records whose message starts with one of `starts` at info level: shown only where the logger
    shows info (e.g. `--log_level info`)."""

    def __init__(self, logger: logging.Logger, starts: tuple[str, ...]):
        super().__init__()
        self.logger, self.starts = logger, starts

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.INFO and record.getMessage().startswith(self.starts):
            record.levelno, record.levelname = logging.INFO, "INFO"
            return self.logger.isEnabledFor(logging.INFO)
        return True


def quiet_by_design_notices():
    """Install the `InfoLevel` filters of `BY_DESIGN` (once per logger)."""
    for name in {name for name, _ in BY_DESIGN}:
        logger = logging.getLogger(name)
        if not any(isinstance(f, InfoLevel) for f in logger.filters):
            logger.addFilter(InfoLevel(logger, tuple(start for n, start in BY_DESIGN if n == name)))
