"""The overview page's refresh: one callback for every tile of the view."""
from __future__ import annotations

from dash import Input, Output
from dash.exceptions import PreventUpdate

from dashboard.pages import overview as overview_page
from dashboard.store import StoreUnavailable
from feeds.kpi.catalogue import CATALOGUE


def register(app, store, settings) -> None:
    ids = list(CATALOGUE)

    @app.callback(Output("overview-body", "children"), Input("tick", "n_intervals"))
    def refresh(_):
        try:
            kpis = store.kpis()
            histories = store.histories(ids)
            feeds = store.feeds()
        except StoreUnavailable:
            raise PreventUpdate  # keep the last picture; the shell shows the banner
        return overview_page.render(kpis, histories, feeds)
