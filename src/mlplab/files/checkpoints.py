"""Callbacks that write files during `fit`: ModelCheckpoint (model files) and CSVLogger (the history).

Both check what they will write in `check_before_fit`, which fit runs before it changes the model: a
path field that is not logged, a missing folder or a CSV file with other columns fail before the first
update.
"""
from __future__ import annotations

import csv
import math
import os
import string

from mlplab.core.checks import check_bool
from mlplab.core.callbacks import Callback, check_monitor, check_monitor_name, monitor_mode


def invalid(name: str, expected: str, received: str) -> ValueError:
    """The library's ValueError, with the whole path in it (the shared one shortens long values)."""
    return ValueError(f"Invalid value for argument `{name}`: expected {expected}. Received: {received}.")


def _check_path(path) -> str:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"Invalid type for argument `path`: expected a file path. Received: {path!r}.")
    return os.fspath(path)


def _check_folder(callback: str, path: str) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise invalid(f"{callback}(path)", "a path in an existing folder", f"{path!r} (no folder {folder!r})")
    if not os.access(folder, os.W_OK):
        raise invalid(f"{callback}(path)", "a path in a folder you can write to", f"{path!r} (read-only {folder!r})")


class ModelCheckpoint(Callback):
    """Save the model (mlplab.files format, with optimizer state) at the end of every epoch, or only
    when `monitor` improved (save_best_only=True). `path` may name the epoch and logged values:
    "ckpt-{epoch:03d}-{val_loss:.3f}.safetensors". `monitor` is used only with save_best_only.

    >>> best = ModelCheckpoint("best.safetensors", save_best_only=True)  # doctest: +SKIP
    >>> model.fit(x, y, validation_split=0.2, callbacks=[best])  # doctest: +SKIP
    """

    def __init__(self, path, monitor: str = "val_loss", save_best_only: bool = False, mode: str = "auto"):
        self.path = _check_path(path)
        self.monitor = check_monitor_name("ModelCheckpoint", monitor)
        self.save_best_only = check_bool("save_best_only", save_best_only)
        self.mode = monitor_mode(monitor, mode)
        self.best = None
        self.saved: list[str] = []  # the files written, in order

    def check_before_fit(self, model, log_keys) -> None:
        """The monitor (only if save_best_only), every {field} of the path, and its folder."""
        if self.save_best_only:
            check_monitor(self, log_keys)
        fields = "a path whose {fields} are epoch or logged values " + f"({', '.join(['epoch', *log_keys])})"
        try:
            names = [name for _, name, _, _ in string.Formatter().parse(self.path) if name is not None]
        except ValueError as err:
            raise invalid("ModelCheckpoint(path)", fields, f"{self.path!r} ({err})") from None
        unknown = [name for name in names if name.split(".")[0].split("[")[0] not in ("epoch", *log_keys)]
        if unknown:
            raise invalid("ModelCheckpoint(path)", fields, f"{self.path!r} (field {{{unknown[0]}}})")
        try:  # a format the values cannot take ({loss:d}) fails now, not after the first epoch
            example = self.path.format(epoch=1, **dict.fromkeys(log_keys, 0.5))
        except (KeyError, IndexError, ValueError, TypeError, AttributeError) as err:
            raise invalid("ModelCheckpoint(path)", fields, f"{self.path!r} ({err})") from None
        _check_folder("ModelCheckpoint", example)

    def on_train_begin(self, logs=None):
        self.best = math.inf if self.mode == "min" else -math.inf

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.save_best_only:
            value = logs.get(self.monitor)
            if value is None or not math.isfinite(value):
                return
            if not (value < self.best if self.mode == "min" else value > self.best):
                return
            self.best = value
        try:
            path = self.path.format(epoch=epoch + 1, **logs)
        except (KeyError, IndexError, ValueError, TypeError, AttributeError) as err:
            raise invalid("ModelCheckpoint(path)", "a path whose {fields} are epoch or logged values", self.path) \
                from err
        self.model.save(path)
        self.saved.append(path)


class CSVLogger(Callback):
    """Write one CSV row per epoch (epoch, loss, metrics, val_...) to `path`, flushed as it goes,
    so a long run can be watched (or plotted) while it trains. append=True continues an existing file,
    only if its header has the columns this fit logs (a "learning_rate" column may come and go with
    ReduceLROnPlateau); the file is opened for each row, so nothing stays open if fit fails."""

    def __init__(self, path, separator: str = ",", append: bool = False):
        self.path = _check_path(path)
        if not isinstance(separator, str) or len(separator) != 1 or separator in "\"\r\n":
            raise invalid("separator", "one character (not a quote or a line break)", separator)
        self.separator, self.append = separator, check_bool("append", append)
        self.keys = None  # the columns after "epoch", once known

    def _existing_header(self):
        """The columns of the file to append to (None if there is none yet)."""
        if not (self.append and os.path.isfile(self.path) and os.path.getsize(self.path) > 0):
            return None
        try:
            with open(self.path, newline="", encoding="utf-8") as file:
                header = next(csv.reader(file, delimiter=self.separator), [])
        except (UnicodeDecodeError, csv.Error) as err:
            raise invalid("CSVLogger(path)", "a CSV file written by CSVLogger to append to",
                          f"{self.path!r} ({err})") from None
        return header

    def check_before_fit(self, model, log_keys) -> None:
        _check_folder("CSVLogger", self.path)
        header = self._existing_header()
        if header is not None and (header[:1] != ["epoch"] or set(header[1:]) - {"learning_rate"} != set(log_keys)
                                   or len(set(header)) != len(header)):
            raise invalid("CSVLogger(append=True)", f"a file whose header is epoch and the values this fit logs "
                          f"({', '.join(log_keys)}), to append rows under it; or another path",
                          f"{self.path!r} with header {self.separator.join(header)!r}")

    def on_train_begin(self, logs=None):
        header = self._existing_header()
        self.keys = None if header is None else header[1:]
        if not self.append:
            with open(self.path, "w", encoding="utf-8"):
                pass  # a fresh file, as Keras does; rows follow at each epoch's end

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        rows = []
        if self.keys is None:
            self.keys = list(logs)
            rows.append(["epoch"] + self.keys)
        extra = [key for key in logs if key not in self.keys]
        if extra:
            raise invalid("CSVLogger(path)", f"logged values matching the file's columns {self.keys}",
                          f"{self.path!r} and a new value {extra[0]!r}")
        rows.append([epoch + 1] + [repr(float(logs[k])) if k in logs else "" for k in self.keys])
        with open(self.path, "a", newline="", encoding="utf-8") as file:
            csv.writer(file, delimiter=self.separator).writerows(rows)
