"""Routing, theme, clock and connection state of the shell."""
from __future__ import annotations

import time
from datetime import datetime
from urllib.parse import parse_qs

from dash import ClientsideFunction, Input, Output, State, ctx, html
from dash.exceptions import PreventUpdate

from dashboard.pages import domain as domain_page
from dashboard.shell import nav_links
from dashboard.store import StoreUnavailable
from feeds.timeparse import zone

from feeds.plugins import package_modules
from feeds.schema import DOMAINS

# /<name>[/<id>] is the page of ``dashboard.pages.<name>.page(store, query)`` (see feeds.plugins);
# a domain without its page module yet gets a placeholder of its KPIs.
DOMAIN_PAGES = {f"/{d}": d for d in DOMAINS}


def resolve(pathname: str, pages: dict) -> tuple[str | None, str | None]:
    """(page module name, id from the path) for a path; (None, None) when no page is there."""
    parts = [p for p in (pathname or "/").split("/") if p]
    if not parts:
        return "overview", None
    name, rest = parts[0], "/".join(parts[1:]) or None
    if name not in pages or name in ("overview", "domain"):
        return None, None
    return name, rest


def register(app, store, settings) -> None:
    tz = zone(store.city.timezone)
    pages = package_modules("dashboard.pages", "page")

    @app.callback(Output("page", "children"), Output("nav", "children"),
                  Input("url", "pathname"), Input("url", "search"))
    def route(pathname, search):
        pathname = pathname or "/"
        if pathname.rstrip("/") == "/wall" and "url.search" in ctx.triggered_prop_ids \
                and "url.pathname" not in ctx.triggered_prop_ids:
            # A page shown on the wall may write its own state into the address (a layer list, say):
            # the wall keeps its playlist running instead of starting again.
            raise PreventUpdate
        query = {k: v[0] for k, v in parse_qs((search or "").lstrip("?")).items()}
        nav = nav_links(pathname, search or "")
        name, ident = resolve(pathname, pages)
        if name is not None:
            if ident is not None:
                query["id"] = ident
            return pages[name].page(store, query), nav
        domain = DOMAIN_PAGES.get(pathname)
        if domain is not None:
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
            // Unchanged, the store is left alone: every page's refresh takes the theme as an Input, and a
            // page that writes its own state into the address (the overview's layers) would repaint twice.
            return [theme === stored ? dash_clientside.no_update : theme, 'shell theme-' + theme];
        }
        """,
        Output("theme", "data"), Output("shell", "className"),
        Input("theme-toggle", "n_clicks"), Input("url", "search"), State("theme", "data"),
    )

    # The wall clock ticks every second in the browser, in the city's time zone.
    app.clientside_callback(
        """
        function(_, tz) {
            var parts = new Intl.DateTimeFormat('en-GB', {timeZone: tz, weekday: 'short', day: '2-digit',
                month: 'short', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false}).format(new Date());
            return parts.replace(',', '');
        }
        """,
        Output("clock", "children"), Input("clock-tick", "n_intervals"), State("city-tz", "data"),
    )

    @app.callback(Output("conn", "children"), Output("conn", "className"),
                  Output("banner", "children"), Output("banner", "className"), Output("last-ok", "data"),
                  Input("tick", "n_intervals"), State("last-ok", "data"))
    def connection(_, last_ok):
        if store.ping():
            return "● LIVE", "conn conn-live", [], "banner hidden", time.time()
        since = datetime.fromtimestamp(last_ok, tz).strftime("%H:%M:%S") if last_ok else "the start"
        message = [html.Strong("Data source unreachable. "),
                   f"Showing the last picture, from {since}. Reconnecting automatically…"]
        return "● OFFLINE", "conn conn-down", message, "banner", last_ok

    # While Redis is down, tick every second (at most), so the page is live again within a second of its
    # return; back to REFRESH_S once it answers. Decided in the browser: no request of its own.
    app.clientside_callback(
        """
        function(conn, ms) { return conn === '\u25cf OFFLINE' ? Math.min(ms, 1000) : ms; }
        """,
        Output("tick", "interval"), Input("conn", "children"), State("tick-ms", "data"),
    )

    # The web server stops answering (down, hung, network cut): the browser notices that no callback
    # has been answered for a while (assets/wall.js) and says so; the first answer clears it.
    app.clientside_callback(
        ClientsideFunction("connection", "desk"),
        Output("server-banner", "children"), Output("server-banner", "className"),
        Input("clock-tick", "n_intervals"), State("tick", "interval"), State("city-tz", "data"),
    )
