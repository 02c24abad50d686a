"""The project's error tree; every package raises these, the API and CLI map them once.

PrecreditError                     500 internal
├── InvalidInput                   422 invalid_input
│   ├── InvalidUSCC                422 invalid_uscc   (carries a stable reason code)
│   └── InvalidPlatformData        422 invalid_platform_data
├── NotFound                       404 not_found
│   └── UnknownEntity              404 unknown_entity
├── Conflict                       409 conflict
├── StoreError                     503 store_unavailable (missing or broken store)
├── ModelUnavailable               503 model_unavailable
├── ConsentRequired                403 consent_required (no valid consent covers the data)
│
│   declared beside the code that raises them:
├── RegistryError                  500 invalid_feature    (features.registry: a bad declaration)
├── EngineUnavailable              503 spark_unavailable  (features.spark: no Java or pyspark)
├── AuditUnavailable               503 audit_unavailable  (serving.decision.audit_writer)
├── ServerStartFailed              503 server_start_failed (serving.http: a server in a thread)
├── ApiError                       4xx as given           (serving.errors: auth, scope, idempotency)
├── GateFailed                     409 gate_failed        (training.promotion: no override given)
├── SamePerson                     403 same_person        (training.promotion: maker-checker)
├── ReservedId < InvalidInput      422 reserved_id        (serving.db.tenants: `platform` ids)
├── UnknownRecord < InvalidInput   422 unknown_record     (serving.disputes.records)
├── NotRepairable < InvalidInput   422 not_repairable     (serving.disputes.cases: repair rules)
├── ReasonNotCited < InvalidInput  422 reason_not_cited   (serving.disputes.cases)
├── IllegalTransition < Conflict   409 illegal_transition (serving.db.disputes: state machine)
├── CalendarUnknown                503 calendar_unknown   (platform_services.deadlines)
└── SimulationError                500 simulation_failed  (simulation.api: the API misbehaved)
"""

from __future__ import annotations


class PrecreditError(Exception):
    """Root of every error precredit raises on purpose."""

    http_status: int = 500
    code: str = "internal"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(PrecreditError):
    """Input that can never be processed as given."""

    http_status = 422
    code = "invalid_input"


class InvalidUSCC(InvalidInput):
    """A unified social credit code that fails GB 32100-2015; `reason` is a stable code."""

    code = "invalid_uscc"

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class InvalidPlatformData(InvalidInput):
    """Platform files or parameters that cannot be loaded or generated."""

    code = "invalid_platform_data"


class NotFound(PrecreditError):
    """The object does not exist (or belongs to someone else)."""

    http_status = 404
    code = "not_found"


class UnknownEntity(NotFound):
    """No market entity with this credit code in the platform store."""

    code = "unknown_entity"


class StoreError(PrecreditError):
    """The platform store is missing, unreadable or not in the expected schema."""

    http_status = 503
    code = "store_unavailable"


class ModelUnavailable(PrecreditError):
    """No verified model can serve this request."""

    http_status = 503
    code = "model_unavailable"


class Conflict(PrecreditError):
    """The request clashes with the current state (a job of that kind already runs)."""

    http_status = 409
    code = "conflict"


class ConsentRequired(PrecreditError):
    """No valid consent (started, not expired, not revoked) lets this bank use the entity's data."""

    http_status = 403
    code = "consent_required"
