"""Request bodies of the API: strict, bounded, finite numbers only, no extra fields."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Money = Annotated[float, Field(ge=0, le=1e12, allow_inf_nan=False)]
Text = Annotated[str, Field(min_length=1, max_length=64)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class PreapprovalIn(_Strict):
    """One question: a credit code, optionally a product and a requested amount."""

    uscc: Annotated[
        str, Field(min_length=1, max_length=64, description="unified social credit code")
    ]
    product: Text = "sme_credit"
    requested_amount_cny: Annotated[float, Field(gt=0, le=1e12, allow_inf_nan=False)] | None = None


class PreapprovalBatchIn(_Strict):
    """Several questions; each is answered on its own."""

    items: Annotated[list[PreapprovalIn], Field(min_length=1)]


class OutcomeIn(_Strict):
    """A loan's actual result as the bank observed it on `observation_date`."""

    model_config = ConfigDict(extra="forbid", strict=False, frozen=True)

    loan_id: Text
    uscc: Annotated[str, Field(min_length=1, max_length=64)]
    application_date: dt.date
    granted_amount_cny: Money
    drawn_amount_cny: Money
    default_flag: bool
    default_date: dt.date | None = None
    max_dpd: Annotated[int, Field(ge=0, le=10_000)] | None = None
    dpd_history: (
        Annotated[list[Annotated[int, Field(ge=0, le=10_000)]], Field(max_length=120)] | None
    ) = None
    observation_date: dt.date


class OutcomeBatchIn(_Strict):
    """Several loans at once."""

    model_config = ConfigDict(extra="forbid", strict=False, frozen=True)

    outcomes: Annotated[list[OutcomeIn], Field(min_length=1)]
