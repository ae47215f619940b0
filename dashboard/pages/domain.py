"""Pages of domains whose feeds have not landed yet: their KPIs, honestly without data."""
from __future__ import annotations

from dash import html

from dashboard.components import kpi_card
from dashboard.pages.overview import DOMAIN_TITLE


def layout(domain: str, kpis: list[dict]) -> html.Div:
    return html.Div(className="domain-page", children=[
        html.H1(DOMAIN_TITLE[domain]),
        html.P("No feed configured yet: this page fills in when its feed lands. The KPIs it will carry:",
               className="muted"),
        html.Div([kpi_card(k) for k in kpis], className="cards"),
    ])
