"""The pure core: the sales domain's values and rules, with no database, broker, HTTP or Jinja."""
