"""A Dask client that lists data parts in the order asked, so lightgbm.dask ranks are stable.

lightgbm.dask gives LightGBM rank r to the worker holding the r-th part in `Client.who_has`;
distributed builds that answer from a set of keys, in an order that changes with the process's
string hashing. Each rank bins its share of the features from its own rows, so another order
grows other trees. Listing the parts in the order of the futures asked for keeps slice r of the
training rows on rank r in every run.
"""

from __future__ import annotations

from typing import Any

from distributed import Client


class PartOrderClient(Client):  # type: ignore[misc]
    """`distributed.Client` whose `who_has` keeps the order of the futures it is given."""

    def who_has(self, futures: Any = None, **kwargs: Any) -> Any:
        """Which workers hold each future's data, in the order of `futures`."""
        found = super().who_has(futures, **kwargs)
        if futures is None or not isinstance(found, dict):
            return found
        order = [future.key for future in self.futures_of(futures)]
        return type(found)({key: found[key] for key in order if key in found})
