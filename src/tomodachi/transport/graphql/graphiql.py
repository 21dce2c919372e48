"""The GraphiQL page (``graphql.graphiql``): an HTML shell that loads GraphiQL from a CDN.

The browser fetches React and GraphiQL from unpkg.com; the page itself sends queries to the
endpoint it was served from. Off in production unless ``graphql.graphiql`` is set.
"""

from __future__ import annotations

import html

__all__ = ["graphiql_page"]

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{title}</title>
<style>html, body, #graphiql {{ height: 100%; margin: 0; }}</style>
<link rel="stylesheet" href="https://unpkg.com/graphiql@3/graphiql.min.css">
</head>
<body>
<div id="graphiql">Loading GraphiQL...</div>
<script crossorigin src="https://unpkg.com/react@18/umd/react.production.min.js"></script>
<script crossorigin src="https://unpkg.com/react-dom@18/umd/react-dom.production.min.js"></script>
<script crossorigin src="https://unpkg.com/graphiql@3/graphiql.min.js"></script>
<script>
  // Queries and mutations go to this page's own URL (POST, JSON).
  var endpoint = window.location.pathname;
  var fetcher = GraphiQL.createFetcher({{ url: endpoint }});
  ReactDOM.createRoot(document.getElementById("graphiql")).render(
    React.createElement(GraphiQL, {{ fetcher: fetcher, defaultEditorToolsVisibility: true }})
  );
</script>
</body>
</html>
"""


def graphiql_page(title: str) -> str:
    """The page, titled *title* (the service's name)."""
    return _PAGE.format(title=html.escape(f"GraphiQL: {title}"))
