"""One row through LightGBM's single-row fast C API: the single answer's TreeSHAP and raw score.

`Booster.predict` on one row builds an inner predictor, a parameter string and LightGBM's
C++ `Predictor` (buffers, per-tree depths) on every call. The fast API builds them once
(`LGBM_BoosterPredictForMatSingleRowFastInit`) and then scores a row with one C call
(`LGBM_BoosterPredictForMatSingleRowFast`), through lightgbm's own library handle (`_LIB`).

LightGBM locks a booster for the whole single-row call, so a call takes a booster (made from
the model's text, with its FastConfig) that no other thread is using from a free list, and puts
it back after: there are as many boosters as calls ever ran at once (not one per thread of a
40-thread pool: each costs ~2.3 ms of CPU to build), and they are freed with the predictor
(`_Handle.__del__`: the FastConfig first, then its booster). The C++ path is the same
predictor function `Booster.predict` runs per row, with the same `num_threads=1` it passes for
small inputs: `tests/models/test_single_row.py` checks the results equal `Booster.predict` bit
for bit on many rows, missing values and categorical features included.
"""

from __future__ import annotations

import ctypes
from collections import deque
from contextlib import suppress

import lightgbm as lgb
import numpy as np
from lightgbm.basic import _LIB, _safe_call  # type: ignore[attr-defined]
from numpy.typing import NDArray

C_API_DTYPE_FLOAT64 = 1
RAW_SCORE = 1  # C_API_PREDICT_RAW_SCORE
CONTRIB = 3  # C_API_PREDICT_CONTRIB
PARAMETERS = b"num_threads=1"  # what `Booster.predict(num_threads=1)` passes


class _Handle:
    """A booster of its own and its FastConfig per prediction type (one call at a time)."""

    def __init__(self, model_text: str, ncol: int) -> None:
        self.booster = lgb.Booster(model_str=model_text)
        self.configs: dict[int, ctypes.c_void_p] = {}
        self.ncol = ncol
        self.out_len = ctypes.c_int64(0)

    def config(self, predict_type: int) -> ctypes.c_void_p:
        """The FastConfig of `predict_type` (made on first use)."""
        config = self.configs.get(predict_type)
        if config is None:
            config = ctypes.c_void_p()
            _safe_call(
                _LIB.LGBM_BoosterPredictForMatSingleRowFastInit(
                    self.booster._handle,
                    ctypes.c_int(predict_type),
                    ctypes.c_int(0),
                    ctypes.c_int(0),  # every tree of the text (saved at the best iteration)
                    ctypes.c_int(C_API_DTYPE_FLOAT64),
                    ctypes.c_int32(self.ncol),
                    ctypes.c_char_p(PARAMETERS),
                    ctypes.byref(config),
                )
            )
            self.configs[predict_type] = config
        return config

    def __del__(self) -> None:
        configs, self.configs = self.configs, {}
        for config in configs.values():  # before the booster they point into
            with suppress(Exception):  # at interpreter exit the library may be gone already
                _LIB.LGBM_FastConfigFree(config)


class SingleRowPredictor:
    """Raw score and TreeSHAP contributions of one row, as `Booster.predict` gives them."""

    def __init__(self, model_text: str, ncol: int) -> None:
        """`model_text`: LightGBM's text model (every tree is used); `ncol`: its feature count."""
        self._text, self.ncol = model_text, ncol
        self._free: deque[_Handle] = deque()  # handles no thread is using

    def contributions(self, row: NDArray[np.float64]) -> NDArray[np.float64]:
        """1 x (features + 1) contributions, the last column the base value."""
        return self._predict(row, CONTRIB, self.ncol + 1).reshape(1, -1)

    def raw_score(self, row: NDArray[np.float64]) -> NDArray[np.float64]:
        """The row's raw score (log-odds), an array of one."""
        return self._predict(row, RAW_SCORE, 1)

    def handles(self) -> int:
        """How many boosters this predictor holds (at most the calls ever run at once)."""
        return len(self._free)

    def _predict(self, row: NDArray[np.float64], kind: int, width: int) -> NDArray[np.float64]:
        data = np.ascontiguousarray(row, dtype=np.float64)
        if data.size != self.ncol:
            raise ValueError(f"expected one row of {self.ncol} features, got {data.shape}")
        out = np.empty(width, dtype=np.float64)
        try:
            handle = self._free.pop()  # atomic: no two threads get the same handle
        except IndexError:
            handle = _Handle(self._text, self.ncol)
        try:
            _safe_call(
                _LIB.LGBM_BoosterPredictForMatSingleRowFast(
                    handle.config(kind),
                    ctypes.c_void_p(data.ctypes.data),
                    ctypes.byref(handle.out_len),
                    ctypes.c_void_p(out.ctypes.data),
                )
            )
            written = handle.out_len.value
        finally:
            self._free.append(handle)
        if written != width:
            raise ValueError(f"LightGBM gave {written} values, expected {width}")
        return out
