"""Product policy files: defaults, YAML/TOML loading, validation messages and fingerprints."""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog.errors import InvalidInput
from models.policy import ProductPolicy, default_policy, load_policy

SECRET = "do-not-echo-4f2a"  # planted in bad files: an error message must never repeat it

CUSTOM_YAML = """\
bank: bank_a
product: tax_loan
version: "3"
decision: {approve_max_pd: 0.02, refer_max_pd: 0.05}
capacity: {tax_multiple: 6.0, revenue_share: 0.1, per_head_cny: 0}
pd_multiplier:
  - {max_pd: 0.02, multiplier: 1.0}
  - {max_pd: 0.05, multiplier: 0.5}
  - {max_pd: 1.0, multiplier: 0.0}
caps_cny: {enterprise: 2000000, individual: 500000, cooperative: 1000000, rural_collective: 1000000}
min_limit_cny: 50000
gates: {min_age_months: 36, excluded_industries: [K], no_abnormal_operations: false}
"""

CUSTOM_TOML = """\
bank = "bank_a"
product = "tax_loan"
version = "3"
min_limit_cny = 50_000

[decision]
approve_max_pd = 0.02
refer_max_pd = 0.05

[capacity]
tax_multiple = 6.0
revenue_share = 0.1
per_head_cny = 0

[[pd_multiplier]]
max_pd = 0.02
multiplier = 1.0

[[pd_multiplier]]
max_pd = 0.05
multiplier = 0.5

[[pd_multiplier]]
max_pd = 1.0
multiplier = 0.0

[caps_cny]
enterprise = 2_000_000
individual = 500_000
cooperative = 1_000_000
rural_collective = 1_000_000

[gates]
min_age_months = 36
excluded_industries = ["K"]
no_abnormal_operations = false
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load_error(tmp_path: Path, text: str, name: str = "bad.yaml") -> str:
    """The InvalidInput message of loading `text`; checks it is one line without file content."""
    with pytest.raises(InvalidInput) as caught:
        load_policy(write(tmp_path, name, text))
    message = caught.value.message
    assert "\n" not in message
    assert SECRET not in message
    assert message.startswith(f"policy {name}: ")
    return message


def test_shipped_default_matches_code_defaults_and_domain() -> None:
    policy = default_policy()
    assert policy == ProductPolicy(version="2025.1")
    assert policy.capacity.tax_multiple == 8.0
    assert policy.caps_cny["enterprise"] == 5_000_000
    assert policy.caps_cny["individual"] == 1_000_000
    assert policy.gates.excluded_industries == ("J", "K", "R")
    assert policy.pd_multiplier[-1].max_pd == 1.0


def test_yaml_and_toml_load_to_the_same_fingerprint(tmp_path: Path) -> None:
    from_yaml = load_policy(write(tmp_path, "p.yaml", CUSTOM_YAML))
    from_toml = load_policy(write(tmp_path, "p.toml", CUSTOM_TOML))
    assert from_yaml.fingerprint() == from_toml.fingerprint()
    assert from_yaml.fingerprint() != default_policy().fingerprint()
    assert from_yaml.gates.no_abnormal_operations is False
    assert from_yaml.caps_cny["individual"] == 500_000


def test_yml_suffix_loads(tmp_path: Path) -> None:
    assert load_policy(write(tmp_path, "p.yml", CUSTOM_YAML)).bank == "bank_a"


def test_json_round_trip_keeps_the_fingerprint() -> None:
    policy = ProductPolicy(version="9", min_limit_cny=30_000)
    restored = ProductPolicy.from_json(policy.to_json())
    assert restored == policy
    assert restored.fingerprint() == policy.fingerprint()
    assert len(policy.fingerprint()) == 64


def test_any_change_changes_the_fingerprint() -> None:
    base = ProductPolicy(version="1")
    changed = base.model_copy(update={"min_limit_cny": 20_001.0})
    assert base.fingerprint() != changed.fingerprint()


def test_list_order_does_not_change_the_fingerprint() -> None:
    a = ProductPolicy.model_validate({"version": "1", "gates": {"excluded_industries": ["K", "J"]}})
    b = ProductPolicy.model_validate({"version": "1", "gates": {"excluded_industries": ["J", "K"]}})
    assert a.fingerprint() == b.fingerprint()


def test_policy_is_immutable() -> None:
    with pytest.raises(ValueError, match="frozen"):
        default_policy().min_limit_cny = 0.0


def test_bad_yaml_reports_position_not_content(tmp_path: Path) -> None:
    message = load_error(tmp_path, f'version: "1"\nbank: [{SECRET}\nproduct: x: y\n')
    assert "invalid YAML at line" in message


def test_bad_toml_reports_position_not_content(tmp_path: Path) -> None:
    message = load_error(tmp_path, f'version = "1"\nbank = {SECRET}\n', name="bad.toml")
    assert "invalid TOML" in message
    assert "line 2" in message


def test_unknown_top_level_field(tmp_path: Path) -> None:
    message = load_error(tmp_path, f'version: "1"\nbank_name: {SECRET}\n')
    assert message.endswith("bank_name: Extra inputs are not permitted")


def test_unknown_nested_field(tmp_path: Path) -> None:
    message = load_error(tmp_path, f'version: "1"\ngates: {{no_such_gate: {SECRET}}}\n')
    assert "gates.no_such_gate: Extra inputs are not permitted" in message


def test_non_monotone_multipliers(tmp_path: Path) -> None:
    text = (
        'version: "1"\npd_multiplier:\n  - {max_pd: 0.01, multiplier: 0.5}\n'
        "  - {max_pd: 0.05, multiplier: 0.8}\n  - {max_pd: 1.0, multiplier: 0.0}\n"
    )
    message = load_error(tmp_path, text)
    assert "pd_multiplier: multipliers must not increase with PD" in message


def test_multiplier_steps_must_rise_and_end_at_one(tmp_path: Path) -> None:
    unordered = (
        'version: "1"\npd_multiplier:\n  - {max_pd: 0.05, multiplier: 1.0}\n'
        "  - {max_pd: 0.01, multiplier: 0.5}\n  - {max_pd: 1.0, multiplier: 0.0}\n"
    )
    assert "max_pd must rise strictly" in load_error(tmp_path, unordered)
    short = 'version: "1"\npd_multiplier: [{max_pd: 0.5, multiplier: 1.0}]\n'
    assert "last step must have max_pd 1.0" in load_error(tmp_path, short)


def test_approve_above_refer(tmp_path: Path) -> None:
    message = load_error(
        tmp_path, 'version: "1"\ndecision: {approve_max_pd: 0.1, refer_max_pd: 0.05}\n'
    )
    assert "decision: approve_max_pd (0.1) must be <= refer_max_pd (0.05)" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("bank: x\n", "version: Field required"),
        ("version: 2025.1\n", "version: Input should be a valid string"),
        ('version: "1"\ncurrency: USD\n', "currency: Input should be 'CNY'"),
        ('version: "1"\ndecision: {refer_max_pd: 1.5}\n', "decision.refer_max_pd"),
        ('version: "1"\ncaps_cny: {enterprise: 1}\n', "missing: ['individual'"),
        (
            'version: "1"\ngates: {excluded_industries: [K, Z]}\n',
            "unknown GB/T 4754 sections at positions [1]",
        ),
        (
            'version: "1"\ngates: {excluded_tax_grades: [E]}\n',
            "unknown tax grades at positions [0]",
        ),
        ('version: "1"\ngates: {min_age_months: -1}\n', "gates.min_age_months"),
        ('version: "1"\nmin_limit_cny: -5\n', "min_limit_cny: Input should be greater than"),
        ("- a\n- b\n", "must be a mapping"),
        ("", "must be a mapping"),
    ],
)
def test_invalid_field_messages(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in load_error(tmp_path, text)


def test_several_errors_are_counted_not_listed(tmp_path: Path) -> None:
    message = load_error(tmp_path, f"a: {SECRET}\nb: 1\n")
    assert "(and 2 more)" in message  # version missing, a and b unknown


def test_wrong_suffix_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"expected a \.yaml, \.yml or \.toml file"):
        load_policy(write(tmp_path, "p.json", "{}"))
    with pytest.raises(InvalidInput, match="cannot read"):
        load_policy(tmp_path / "absent.yaml")


def test_bad_json_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="policy JSON"):
        ProductPolicy.from_json("{not json")
    with pytest.raises(InvalidInput, match="version: Field required"):
        ProductPolicy.from_json("{}")


def test_the_cached_fingerprint_follows_each_policy_object() -> None:
    from models.policy import default_policy, fingerprint_of

    policy = default_policy()
    assert fingerprint_of(policy) == policy.fingerprint()
    changed = policy.model_copy(update={"min_limit_cny": 30_000.0})
    assert fingerprint_of(changed) == changed.fingerprint() != policy.fingerprint()
    assert fingerprint_of(policy) == policy.fingerprint()  # not overwritten by the copy
