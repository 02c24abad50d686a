"""The validation pack as one self-contained HTML page (inline CSS, no external assets)."""

from __future__ import annotations

from jinja2 import Environment, select_autoescape

from serving.validation.result import ValidationPack

TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Validation pack · {{ p.model.name }} v{{ p.model.version }} · {{ p.scope.tenant }}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}
td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}
th{background:#f3f3f3}td.l,th.l{text-align:left}
.green{background:#d7f5d7}.yellow{background:#fff3c4}.red{background:#ffd0d0}
.ok{}.warn{background:#fff3c4}.alert{background:#ffd0d0}
code{font-size:12px}
</style></head><body>
<h1>Validation pack 验证报告</h1>
<p>Model <b>{{ p.model.name }} v{{ p.model.version }}</b> on tenant <b>{{ p.scope.tenant }}</b>,
loans matured by {{ p.scope.as_of }}. Generated {{ p.generated_at }}.</p>

<h2>1. Scope and data 范围与数据</h2>
<p>{{ p.scope.default_definition }}.</p>
<table>
<tr><th class="l">loans</th><td>{{ p.scope.loans }}</td></tr>
<tr><th class="l">defaults</th><td>{{ p.scope.defaults }}</td></tr>
<tr><th class="l">applications from / to</th><td>{{ p.scope.observation_first }} / {{ p.scope.observation_last }}</td></tr>
<tr><th class="l">model fingerprint</th><td><code>{{ p.model.model_fingerprint }}</code></td></tr>
<tr><th class="l">feature registry fingerprint</th><td><code>{{ p.model.registry_fingerprint }}</code></td></tr>
<tr><th class="l">loan data SHA-256</th><td><code>{{ p.scope.data_sha256 }}</code></td></tr>
<tr><th class="l">MLflow run</th><td><code>{{ p.model.run_id }}</code></td></tr>
<tr><th class="l">trained through</th><td>{{ p.model.trained_through }}</td></tr>
</table>
<h3>Vintages</h3>
<table><tr><th class="l">vintage</th><th>loans</th><th>defaults</th><th>rate</th><th>mean PD</th><th>AUC</th><th>in training period</th></tr>
{% for v in p.scope.vintages %}<tr><td class="l">{{ v.vintage }}</td><td>{{ v.loans }}</td><td>{{ v.defaults }}</td>
<td>{{ pct(v.default_rate) }}</td><td>{{ pct(v.mean_pd) }}</td><td>{{ num(v.auc) }}</td><td>{{ v.in_training_period }}</td></tr>
{% endfor %}</table>
<h3>Missing rates (model inputs with any missing value)</h3>
<table>{% for name, rate in p.scope.missing_rates.items() if rate > 0 %}
<tr><td class="l">{{ name }}</td><td>{{ pct(rate) }}</td></tr>{% endfor %}</table>

<h2>2. Discrimination 区分能力</h2>
{% if p.discrimination %}{% set d = p.discrimination %}
<p>{{ d.method }}.</p>
<table><tr><th class="l">segment</th><th class="l">value</th><th>loans</th><th>defaults</th>
<th>AUC</th><th>95% CI</th><th>Gini</th><th>KS</th><th>95% CI</th></tr>
{% for r in [d.overall] + d.segments %}<tr><td class="l">{{ r.segment or "all" }}</td><td class="l">{{ r.value or "" }}</td>
<td>{{ r.n }}</td><td>{{ r.defaults }}</td><td>{{ num(r.auc) }}</td><td>{{ ci(r.auc_ci) }}</td>
<td>{{ num(r.gini) }}</td><td>{{ num(r.ks) }}</td><td>{{ ci(r.ks_ci) }}</td></tr>
{% endfor %}</table>
{% if d.versus_development %}{% set v = d.versus_development %}
<p class="{{ v.light }}">Current AUC {{ num(v.current) }} against development {{ num(v.development) }}:
z = {{ num(v.z) }}, one-sided p = {{ num(v.p_value) }} ({{ v.light }}).</p>{% endif %}
{% if d.versus_versions %}<h3>Back-test against the other versions and the WoE scorecard (same loans, paired DeLong)</h3>
<table><tr><th class="l">version</th><th class="l">role</th><th>AUC (this)</th><th>AUC (other)</th><th>difference</th><th>p (two-sided)</th></tr>
{% for c in d.versus_versions %}<tr><td class="l">{{ c.name }} v{{ c.version }}</td><td class="l">{{ c.role }}</td>
<td>{{ num(c.auc) }}</td><td>{{ num(c.other_auc) }}</td><td>{{ num(c.difference) }}</td><td>{{ num(c.p_value) }}</td></tr>{% endfor %}</table>{% endif %}
{% else %}<p>Not computed: the loans need both defaults and non-defaults.</p>{% endif %}

<h2>3. Calibration by grade 分级校准</h2>
{% if p.calibration %}{% set c = p.calibration %}
<p>Lights: p &lt; {{ c.thresholds.yellow_p }} yellow, p &lt; {{ c.thresholds.red_p }} red (one-sided: PD too low).</p>
<table><tr><th class="l">grade</th><th>loans</th><th>defaults</th><th>observed</th><th>mean PD</th>
<th>binomial p</th><th>Jeffreys p</th><th>Jeffreys 95%</th></tr>
{% for g in c.grades %}<tr><td class="l">{{ g.grade }}</td><td>{{ g.loans }}</td><td>{{ g.defaults }}</td>
<td>{{ pct(g.observed_rate) }}</td><td>{{ pct(g.mean_pd) }}</td>
<td class="{{ g.binomial_light }}">{{ num(g.binomial_p) }}</td><td class="{{ g.jeffreys_light }}">{{ num(g.jeffreys_p) }}</td>
<td>{{ pct(g.jeffreys_interval.low) }} – {{ pct(g.jeffreys_interval.high) }}</td></tr>
{% endfor %}</table>
{% if c.hosmer_lemeshow %}<p>Hosmer-Lemeshow: {{ num(c.hosmer_lemeshow.statistic) }} on {{ c.hosmer_lemeshow.df }} df, p = {{ num(c.hosmer_lemeshow.p_value) }}.</p>{% endif %}
{% else %}<p>No matured loans.</p>{% endif %}

<h2>4. Stability 稳定性</h2>
{% set s = p.stability %}<p>Reference: {{ s.reference }}.</p>
{% if s.score %}<p class="{{ s.score.level }}">Score PSI {{ num(s.score.psi) }} ({{ s.score.level }}).</p>{% endif %}
<table><tr><th class="l">feature</th><th>PSI</th><th class="l">level</th></tr>
{% for f in s.features %}<tr class="{{ f.level }}"><td class="l">{{ f.name }}</td><td>{{ num(f.psi) }}</td><td class="l">{{ f.level }}</td></tr>{% endfor %}</table>
{% if s.migration %}{% set m = s.migration %}
<h3>Grade migration {{ m.start }} → {{ m.end }} ({{ m.entities }} borrowers, {{ pct(m.stayed) }} stayed)</h3>
<table><tr><th class="l">from \\ to</th>{% for l in m.labels %}<th>{{ l }}</th>{% endfor %}</tr>
{% for row in m.counts %}{% set i = loop.index0 %}<tr><th class="l">{{ m.labels[i] }}</th>
{% for c in row %}<td>{{ c }}</td>{% endfor %}</tr>{% endfor %}</table>{% endif %}
{% if s.concentration %}<p>Herfindahl index of grades: {{ num(s.concentration.hhi) }}
(normalised {{ num(s.concentration.hhi_normalised) }}).</p>{% endif %}

<h2>5. Overrides 人工调整</h2>
{% set o = p.overrides %}<p>{{ o.overridden }} of {{ o.linked_loans }} loans linked to a pre-approval
({% for k, n in o.by_source.items() %}{{ n }} by {{ k.replace("_", " ") }}{{ ", " if not loop.last }}{% endfor %})
differ from the pre-approval (rate {{ pct(o.override_rate) }}; amounts within {{ pct(o.tolerance) }} count as equal).</p>
<table><tr><th class="l">direction</th><th>loans</th><th>share</th><th>matured</th><th>defaults</th><th>default rate</th></tr>
{% for r in o.directions %}<tr><td class="l">{{ r.direction }}</td><td>{{ r.loans }}</td><td>{{ pct(r.share) }}</td>
<td>{{ r.matured }}</td><td>{{ r.defaults }}</td><td>{{ pct(r.default_rate) }}</td></tr>{% endfor %}</table>

<h2>6. Conceptual soundness 概念合理性</h2>
<p>Monotone directions: registry against the model's constraint, and rows whose PD moved against
the registry's direction when the input rose by one standard deviation.</p>
<table><tr><th class="l">feature</th><th>registry</th><th>model</th><th>rows</th><th>violations</th></tr>
{% for m in p.soundness if m.registry or m.model or not m.agrees %}<tr class="{{ 'ok' if m.agrees and not m.violations else 'alert' }}">
<td class="l">{{ m.feature }}</td><td>{{ m.registry }}</td><td>{{ m.model }}</td><td>{{ m.rows }}</td><td>{{ m.violations }}</td></tr>{% endfor %}</table>

<h3>Reason directions 原因方向</h3>
<p>Top reasons on these loans, per feature with a declared direction: a pair of reasons is
discordant when the value that raised risk lies on the safe side of a value where the same
feature lowered risk (ties count half). Lights: at most 1% of pairs green, at most 5% yellow,
more red.</p>
<table><tr><th class="l">feature</th><th>registry</th><th>reasons</th><th>raising</th><th>lowering</th><th>discordant pairs</th></tr>
{% for r in p.reason_directions %}<tr class="{{ r.light }}"><td class="l">{{ r.feature }}</td><td>{{ r.registry }}</td>
<td>{{ r.reasons }}</td><td>{{ r.raising }}</td><td>{{ r.lowering }}</td><td>{{ pct(r.discordant_share) }}</td></tr>{% endfor %}</table>

<h2>Not covered by this pack</h2>{% if p.not_covered %}<ul>{% for n in p.not_covered %}<li>{{ n }}</li>{% endfor %}</ul>{% else %}<p>Nothing: every section above was computed.</p>{% endif %}
<p>Signed 签署: ____________________ Date 日期: ____________</p>
</body></html>
"""


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:.4f}"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.2f}%"


def _ci(interval: object) -> str:
    low, high = getattr(interval, "low", None), getattr(interval, "high", None)
    return "–" if low is None or high is None else f"{low:.4f} – {high:.4f}"


def html(pack: ValidationPack) -> str:
    """The pack as one self-contained HTML page."""
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    template = env.from_string(TEMPLATE)
    return template.render(p=pack, num=_num, pct=_pct, ci=_ci)
