"""HTML pages the app serves (the report page, the status page): one layout, one stylesheet, strict headers."""
