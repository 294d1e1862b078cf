"""Dataset maps written for chemiscope: a standalone HTML page, or its JSON input."""

import gzip
import json

from quests._errors import OutputError
from quests.io._outputs import atomic_write

#: what ``write_map`` writes, by suffix
MAP_SUFFIXES = (".html", ".json.gz", ".json")

_PAGE = """<!DOCTYPE html>
<html lang="en" data-quests-errors="0">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
  html, body {{ margin: 0; height: 100%; font-family: sans-serif; }}
  #quests-header {{ padding: 4px 10px; font-size: 13px; color: #333; }}
  #quests-layout {{ display: flex; height: calc(100% - 30px); }}
  #quests-map {{ flex: 3; min-width: 0; position: relative; }}
  #quests-side {{ flex: 2; min-width: 0; display: flex; flex-direction: column; }}
  #quests-structure {{ flex: 3; position: relative; }}
  #quests-info {{ flex: 1; overflow: auto; }}
  #quests-error {{ color: #b00; padding: 10px; display: none; }}
</style>
<script>
  // every uncaught error and console.error is counted on the page (read by tests)
  window.questsErrors = [];
  window.addEventListener("error", (event) => {{
    window.questsErrors.push(String(event.message));
    document.documentElement.dataset.questsErrors = window.questsErrors.length;
  }});
  const questsConsoleError = console.error.bind(console);
  console.error = (...args) => {{
    window.questsErrors.push(args.map(String).join(" "));
    document.documentElement.dataset.questsErrors = window.questsErrors.length;
    questsConsoleError(...args);
  }};
</script>
<script>{javascript}</script>
</head>
<body data-quests-map="loading">
<div id="quests-header">{header}</div>
<div id="quests-error"></div>
<div id="quests-layout">
  <div id="quests-map"></div>
  <div id="quests-side">
    <div id="quests-meta"></div>
    <div id="quests-structure"></div>
    <div id="quests-info"></div>
  </div>
</div>
<script type="application/json" id="quests-dataset">{dataset}</script>
<script>
  // the chemiscope viewer's documented entry point: DefaultVisualizer.load(config, dataset)
  (async () => {{
    const body = document.body;
    try {{
      const dataset = JSON.parse(document.getElementById("quests-dataset").textContent);
      window.questsViewer = await Chemiscope.DefaultVisualizer.load(
        {{map: "quests-map", info: "quests-info", meta: "quests-meta",
          structure: "quests-structure"}}, dataset);
      body.dataset.questsMap = "loaded";
    }} catch (error) {{
      body.dataset.questsMap = "failed";
      const box = document.getElementById("quests-error");
      box.style.display = "block";
      box.textContent = "the map could not be shown: " + error;
      console.error(error);
    }}
  }})();
</script>
</body>
</html>
"""


def chemiscope_javascript():
    """The chemiscope viewer's JavaScript, as the ``chemiscope`` package ships it.

    Examples
    --------
    >>> len(chemiscope_javascript()) > 1_000_000  # inlined into every .html map
    True
    """
    from importlib import resources

    from quests._optional import require

    require("chemiscope", "writing a map", "map", OutputError)
    for parts in (("sphinx", "static", "chemiscope.min.js"), ("static", "chemiscope.min.js")):
        candidate = resources.files("chemiscope").joinpath(*parts)
        if candidate.is_file():
            return candidate.read_text(encoding="utf-8")
    raise OutputError("the installed chemiscope package ships no chemiscope.min.js; "
                      "pip install 'quests[map]' (chemiscope >= 1.1)")


def map_format(path):
    """'html', 'json.gz' or 'json' by the suffix of ``path``; an ``OutputError`` else.

    Examples
    --------
    >>> map_format("train.json.gz"), map_format("map.HTML")
    ('json.gz', 'html')
    """
    name = str(path).lower()
    for suffix in MAP_SUFFIXES:
        if name.endswith(suffix):
            return suffix.lstrip(".")
    raise OutputError(f"output {path}: a map is written as .html (a standalone page), "
                      ".json.gz or .json (chemiscope's input)")


def write_map(path, dataset, title="quests dataset map", header="", overwrite=False):
    """Write a chemiscope input (a dict) as a standalone page (.html: the viewer inlined,
    it opens offline) or as chemiscope JSON (.json.gz, .json), atomically.

    Examples
    --------
    >>> import json, os, shutil, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> data = {"meta": {"name": "x"}, "structures": [], "properties": {}}
    >>> path = write_map(os.path.join(folder, "m.json"), data)
    >>> json.loads(open(path).read())["meta"]
    {'name': 'x'}
    >>> shutil.rmtree(folder)
    """
    import html

    kind = map_format(path)
    text = json.dumps(dataset, allow_nan=False)
    if kind == "json":
        return atomic_write(path, lambda f: f.write(text), overwrite)
    if kind == "json.gz":
        return atomic_write(path, lambda f: f.write(gzip.compress(text.encode("utf-8"))),
                            overwrite, mode="wb")
    # inside <script> only "</" can end the element early: JSON allows "<\/" for it
    page = _PAGE.format(title=html.escape(title), header=html.escape(header),
                        javascript=chemiscope_javascript().replace("</script", "<\\/script"),
                        dataset=text.replace("</", "<\\/"))
    return atomic_write(path, lambda f: f.write(page), overwrite)
