"""A one-page run report for slides and e-mail: headline numbers, the charts, the configuration and what the
statistics mean, as one HTML file that opens offline (plotly.js is embedded once).

Built from a run snapshot (``dqn_sim.runs``), so a run is reported the same way from the CLI and the studio.
"""

from __future__ import annotations

import html
import time
from pathlib import Path

import pandas as pd
import plotly.io as pio

from dqn_sim import plots, policies, stats
from dqn_sim.describe import final_results
from dqn_sim.train.job import JobSnapshot
from dqn_sim.vocab import STATES

STYLE = """
body { font-family: "Source Sans Pro", "Segoe UI", Helvetica, Arial, sans-serif; color: #1F2937; max-width: 1100px;
       margin: 2em auto; padding: 0 1em; line-height: 1.45; }
h1 { margin-bottom: 0.1em; } h2 { border-bottom: 2px solid #6D28D9; padding-bottom: 0.2em; margin-top: 1.6em; }
.cards { display: flex; gap: 1em; flex-wrap: wrap; } .card { border: 1px solid #E5E7EB; border-radius: 8px;
padding: 0.6em 1em; min-width: 12em; } .card b { font-size: 1.6em; display: block; }
table { border-collapse: collapse; font-size: 0.92em; } td, th { border-bottom: 1px solid #E5E7EB;
padding: 0.25em 0.8em; text-align: left; } .muted { color: #6B7280; font-size: 0.9em; }
"""


def _cards(snap: JobSnapshot) -> str:
    s = snap.summary
    cards = [("State", STATES[snap.state].label if snap.state in STATES else snap.state),
             ("Trained", f"{snap.step:,} user-steps")]
    learner = snap.train.algo
    name, mine = policies.label(learner), s.get(f"{learner}_return")
    if mine is not None:
        lo, hi = s[f"{learner}_return_ci"]
        cards.append((f"{name} return per session", f"{mine:.3g} <span class=muted>[{lo:.3g}, {hi:.3g}]</span>"))
    if "best_baseline" in s:
        lift = stats.lift(mine, s["best_baseline_return"]) if mine is not None else float("nan")
        cards.append((f"Best baseline: {policies.label(s['best_baseline'])}",
                      f"{s['best_baseline_return']:.3g} <span class=muted>{name} {lift:+.1%}</span>"))
    if s.get("patient-oracle_return") and mine is not None:
        cards.append(("Share of the ceiling", f"{mine / s['patient-oracle_return']:.0%}"))
    return "<div class=cards>" + "".join(f"<div class=card>{html.escape(k)}<b>{v}</b></div>" for k, v in cards) + \
        "</div>"


def _table(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, border=0, float_format=lambda x: f"{x:.4g}", escape=True)


def _config(snap: JobSnapshot) -> str:
    rows = [("scenario", "name", snap.scenario.name)]
    rows += [("agent", k, v) for k, v in snap.agent.to_dict().items()]
    rows += [("train", k, v) for k, v in snap.train.to_dict().items()]
    return _table(pd.DataFrame(rows, columns=["part", "setting", "value"]).astype(str))


def _results(snap: JobSnapshot) -> str:
    table = final_results(snap.evals)
    if table.empty:
        return "<p class=muted>No evaluation yet.</p>"
    shown = pd.DataFrame({
        "policy": table["policy"].map(policies.label),
        "kind": table["policy"].map(lambda p: policies.spec(p).kind if policies.spec(p) else ""),
        "return": table["return_mean"], "return 95% CI": [f"{lo:.3g} – {hi:.3g}" for lo, hi in
                                                         zip(table["return_lo"], table["return_hi"], strict=True)],
        "CTR": table["ctr"], "session length": table["episode_len_mean"],
    })
    return _table(shown)


def build_report(snap: JobSnapshot) -> str:
    """The whole report as one self-contained HTML document."""
    figures = [plots.learning_curve(snap.metrics, snap.evals, metric="return"),
               plots.final_metrics_chart(final_results(snap.evals))]
    if len(snap.metrics):
        figures.append(plots.q_vs_return(snap.metrics))
    if len(snap.segments):
        figures.append(plots.segment_chart(snap.segments))
    charts = "".join(pio.to_html(fig, full_html=False, include_plotlyjs=i == 0, config={"displaylogo": False})
                     for i, fig in enumerate(figures))
    kept = snap.summary.get("kept")
    kept_text = (f"The reported model is the <b>{html.escape(str(kept.get('rule')))}</b> checkpoint (step "
                 f"{int(kept.get('step', 0)):,}), chosen on validation users and judged once on separate test users."
                 if isinstance(kept, dict) else "The reported model is the last one evaluated.")
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(snap.name)} · dqn_sim</title>
<style>{STYLE}</style></head><body>
<h1>{html.escape(snap.name)}</h1>
<p class=muted>Run {html.escape(snap.id)} · scenario {html.escape(snap.scenario.name)} · seed {snap.train.seed} ·
report written {time.strftime("%Y-%m-%d %H:%M")}</p>
{_cards(snap)}
<h2>Results on held-out users</h2>
{_results(snap)}
<p class=muted>Every policy meets the same held-out users with the same random draws. Intervals are 95% confidence
intervals over those evaluation sessions of one trained model (Student-t for returns, Beta for CTR): they say how
precisely this model was measured, not how another training seed would do. {kept_text}
The patient oracle is a ceiling, not a rival: it reads the simulator's true model and plans ahead.</p>
<h2>Charts</h2>
{charts}
<h2>Configuration</h2>
{_config(snap)}
</body></html>"""


def write_report(snap: JobSnapshot, path: str | Path) -> Path:
    path = Path(path)
    path.write_text(build_report(snap), encoding="utf-8")
    return path
