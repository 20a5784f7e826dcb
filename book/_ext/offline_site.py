"""Keep the built site self-contained: drop sphinx-thebe's scripts (it points at unpkg.com).

Jupyter Book 1.x always loads ``sphinx_thebe``; with launch buttons off it still adds a config
script naming ``https://unpkg.com/thebe`` (twice, which is also a console error). The course has no
live kernels, so this extension removes thebe's scripts and style from every page.
"""


def _drop_thebe(app, pagename, templatename, context, doctree):
    def keep(asset) -> bool:
        name = str(getattr(asset, "filename", asset) or "")
        body = str(getattr(asset, "attributes", {}).get("body", ""))
        return "thebe" not in name and "THEBE_JS_URL" not in body

    for key in ("script_files", "css_files"):
        if key in context:
            context[key] = [a for a in context[key] if keep(a)]


def setup(app):
    app.connect("html-page-context", _drop_thebe, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
