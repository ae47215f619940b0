"""Routing, theme, clock and connection state of the shell."""
from __future__ import annotations

import time
from datetime import datetime
from urllib.parse import parse_qs

from dash import Input, Output, State, html

from dashboard.pages import domain as domain_page
from dashboard.pages import overview as overview_page
from dashboard.pages import traffic as traffic_page
from dashboard.shell import nav_links
from dashboard.store import StoreUnavailable
from feeds.timeparse import zone

DOMAIN_PAGES = {"/transit": "transit", "/environment": "environment", "/emergency": "emergency",
                "/services": "services"}


def register(app, store, settings) -> None:
    tz = zone(store.city.timezone)

    @app.callback(Output("page", "children"), Output("nav", "children"),
                  Input("url", "pathname"), Input("url", "search"))
    def route(pathname, search):
        pathname = pathname or "/"
        query = {k: v[0] for k, v in parse_qs((search or "").lstrip("?")).items()}
        nav = nav_links(pathname, search or "")
        if pathname == "/":
            return overview_page.layout(), nav
        if pathname == "/traffic":
            district = query.get("district")
            if district not in store.city.district_ids():
                district = None
            return traffic_page.layout(store.city, district), nav
        if pathname in DOMAIN_PAGES:
            try:
                kpis = store.kpis(domain=DOMAIN_PAGES[pathname])
            except StoreUnavailable:
                kpis = store.kpis(domain=DOMAIN_PAGES[pathname], values={})
            return domain_page.layout(DOMAIN_PAGES[pathname], kpis), nav
        return html.Div([html.H1("Not found"), html.P(f"No page at {pathname}.")], className="not-found"), nav

    app.clientside_callback(
        """
        function(n, search, stored) {
            var theme = stored || 'dark';
            var trig = (dash_clientside.callback_context.triggered || []).map(function(t) { return t.prop_id; });
            var q = new URLSearchParams(search || '').get('theme');
            if (trig.indexOf('theme-toggle.n_clicks') >= 0 && n) { theme = theme === 'dark' ? 'light' : 'dark'; }
            else if (q === 'light' || q === 'dark') { theme = q; }
            return [theme, 'shell theme-' + theme];
        }
        """,
        Output("theme", "data"), Output("shell", "className"),
        Input("theme-toggle", "n_clicks"), Input("url", "search"), State("theme", "data"),
    )

    @app.callback(Output("clock", "children"), Output("conn", "children"), Output("conn", "className"),
                  Output("banner", "children"), Output("banner", "className"), Output("last-ok", "data"),
                  Input("tick", "n_intervals"), State("last-ok", "data"))
    def connection(_, last_ok):
        now = time.time()
        clock = datetime.fromtimestamp(now, tz).strftime("%a %d %b  %H:%M:%S")
        if store.ping():
            return clock, "● LIVE", "conn conn-live", [], "banner hidden", now
        since = datetime.fromtimestamp(last_ok, tz).strftime("%H:%M:%S") if last_ok else "the start"
        message = [html.Strong("Data source unreachable. "),
                   f"Showing the last picture, from {since}. Reconnecting automatically…"]
        return clock, "● OFFLINE", "conn conn-down", message, "banner", last_ok
