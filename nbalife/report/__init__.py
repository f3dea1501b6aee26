"""``nbalife report``: the series (numpy), the figures (matplotlib, Agg, inline SVG) and the one
self-contained HTML page. Imported only by the report's code path: matplotlib stays out of every
other command."""
