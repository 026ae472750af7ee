"""Interactive charts for report.html (Plotly, with plotly.js inlined once, so the page works offline).

The fan chart is small multiples, one panel per pool (overlapping bands cannot be told apart), on calendar dates,
with a button between % of principal and 亿 CNY; hovering shows each value. The static PNGs stay in the report
folder for the workbook and for pasting.
"""
from __future__ import annotations

import math

import pandas as pd

from forecasting.data.periods import period_end

FONT = '"Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", "Noto Sans", sans-serif'


def fan_html(curves: pd.DataFrame, summary: pd.DataFrame, cutoff: pd.Series, period_months: int, title: str,
             include_js: bool = True) -> str:
    """A <div> with the pools' forecast fans: observed collections solid, the forecast mean dashed, the band of the
    outer quantiles shaded, the agency's estimate as a marker at the horizon."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots
    qcols = sorted(c for c in curves.columns if c.startswith("cum_rate_p"))
    lo, hi = qcols[0], qcols[-1]
    deals = list(dict.fromkeys(curves["deal_id"]))
    cols = min(3, len(deals))
    rows = math.ceil(len(deals) / cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=deals, shared_yaxes=True,
                        vertical_spacing=min(0.3 / rows, 0.15))
    opb = summary.set_index("deal_id")["opb"]
    views = {"pct": [], "cny": []}
    for i, deal in enumerate(deals):
        c = curves[curves["deal_id"] == deal]
        dates = period_end(pd.Series(cutoff[deal], index=c.index), c["period"].to_numpy(), period_months)
        scale = opb[deal] / 1e8
        seen = c["observed"].to_numpy() == 1
        row, col = i // cols + 1, i % cols + 1
        series = [(c[hi], dict(line=dict(width=0), showlegend=False, hoverinfo="skip")),
                  (c[lo], dict(line=dict(width=0), fill="tonexty", fillcolor="rgba(74,122,176,0.25)",
                               name=f"{lo[-3:]}-{hi[-3:]}", showlegend=i == 0)),
                  (c["cum_rate"].where(~seen), dict(line=dict(color="#123", dash="dash"), name="forecast mean",
                                                    showlegend=i == 0)),
                  (c["cum_rate"].where(seen), dict(line=dict(color="#c0392b", width=3), name="observed",
                                                   showlegend=i == 0))]
        for values, style in series:
            fig.add_trace(go.Scatter(x=dates, y=values, mode="lines", legendgroup=style.get("name", ""),
                                     hovertemplate="%{x|%Y-%m}: %{y:.2%}<extra>" + deal + "</extra>", **style),
                          row=row, col=col)
            views["pct"].append(values.to_numpy())
            views["cny"].append(values.to_numpy() * scale)
        est = summary.set_index("deal_id").get("est_gross_recovery")
        if est is not None and pd.notna(est.get(deal)):
            fig.add_trace(go.Scatter(x=[dates[-1]], y=[est[deal]], mode="markers", name="agency estimate",
                                     marker=dict(symbol="triangle-left", size=11, color="#27ae60"),
                                     showlegend=i == 0, legendgroup="agency"), row=row, col=col)
            views["pct"].append([est[deal]])
            views["cny"].append([est[deal] * scale])
    buttons = [dict(label="% of principal", method="update",
                    args=[{"y": views["pct"]}, {f"yaxis{'' if k == 1 else k}.tickformat": ".0%" for k in
                                                range(1, rows * cols + 1)}]),
               dict(label="亿 CNY", method="update",
                    args=[{"y": views["cny"]}, {f"yaxis{'' if k == 1 else k}.tickformat": ",.2f" for k in
                                                range(1, rows * cols + 1)}])]
    fig.update_yaxes(tickformat=".0%")
    fig.update_layout(title=title, height=260 * rows + 120, font=dict(family=FONT, size=11), hovermode="x unified",
                      updatemenus=[dict(buttons=buttons, type="buttons", direction="right", x=1, y=1.0,
                                        xanchor="right", yanchor="bottom", pad=dict(b=40))],
                      legend=dict(orientation="h", y=-0.08), margin=dict(l=50, r=20, t=130, b=40),
                      template="plotly_white")
    return fig.to_html(full_html=False, include_plotlyjs="inline" if include_js else False,
                       config={"displaylogo": False, "responsive": True})
