"""Checks an HTML report: self-contained, complete, and true to its bundle.

usage: report_check.py static REPORT.html
       report_check.py dom DUMPED_DOM.html SEQ...     timeline rows are exactly these seqs
       report_check.py netlog NETLOG.json             the page itself requested nothing
       report_check.py text REPORT.html ID            prints the text of the element with id ID
       report_check.py facts REPORT.html BUNDLE_DIR   summary, keys, chart, resources and
                                                      timeline match the bundle's records
       report_check.py geom-page REPORT.html OUT.html [CSS]
           writes a copy of the report that measures itself when opened (CSS, if given, is
           added last, to try another layout): a test harness, never the report itself
       report_check.py geom DUMPED_DOM.html           no record label overlaps its value
       report_check.py pdf FILE.pdf                   a PDF of at least one page
Exits 1 with a message on the first problem. Standard library only.
"""
import glob
import html.parser
import json
import os
import re
import sys

FORBIDDEN_TAGS = {"script", "link", "img", "iframe", "object", "embed", "video", "audio",
                  "source", "frame", "form", "base", "picture", "track",
                  # inside an inline SVG: what could reach outside the page
                  "use", "image", "feimage", "foreignobject", "a", "animate", "set"}
BLOCKS = {"td", "th", "tr", "dt", "dd", "p", "div", "li", "h1", "h2", "h3", "table"}
FORBIDDEN_ATTRS = {"src", "href", "srcset", "action", "formaction", "poster", "data",
                   "background", "ping", "xlink:href"}


class Scan(html.parser.HTMLParser):
    """Collects problems, the timeline, and the text of every element with an id."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems = []
        self.tl_rows = []
        self.in_style = False
        self.stack = []  # [tag, id, class, attrs, text parts]
        self.by_id = {}
        self.by_class = {}  # class -> [(text, attrs, ancestors' ids)]

    def handle_starttag(self, tag, attrs):
        if tag in FORBIDDEN_TAGS:
            self.problems.append("tag <%s>" % tag)
        for k, v in attrs:
            if k in FORBIDDEN_ATTRS or k.startswith("on"):
                self.problems.append("attribute %s=%r on <%s>" % (k, v, tag))
            if k == "style" and v and re.search(r"url\(|@import", v, re.I):
                self.problems.append("external reference in style attribute")
        d = dict(attrs)
        if tag == "tr" and d.get("class") == "tl":
            self.tl_rows.append(d.get("id", ""))
        self.in_style = tag == "style"
        if tag in ("br", "meta", "line", "rect", "hr", "input", "img", "link", "path"):
            if tag in ("rect", "line"):
                self._close(tag, d, "")
            return
        self.stack.append([tag, d, []])

    def _close(self, tag, d, text):
        ids = [e[1].get("id") for e in self.stack if e[1].get("id")]
        if d.get("id"):
            self.by_id[d["id"]] = text
        for c in (d.get("class") or "").split():
            self.by_class.setdefault(c, []).append((text, d, ids))

    def handle_endtag(self, tag):
        if tag == "style":
            self.in_style = False
        if not self.stack or tag in ("rect", "line"):
            return
        # Close up to the matching tag (the report's markup is well formed).
        while self.stack:
            t, d, parts = self.stack.pop()
            text = "".join(parts)
            if self.stack:
                # A cell or block ends a word, as it does on screen.
                self.stack[-1][2].append(text + (" " if t in BLOCKS else ""))
            self._close(t, d, text)
            if t == tag:
                break

    def handle_data(self, data):
        if self.in_style and re.search(r"url\(|@import|@font-face", data, re.I):
            self.problems.append("external reference in <style>")
        if self.stack and not self.in_style:
            self.stack[-1][2].append(data)


def scan(path):
    s = Scan()
    s.feed(open(path, encoding="utf-8").read())
    s.close()
    return s


def norm(t):
    return " ".join(t.split())


def expected(bundle):
    """What the page must say, computed here from the bundle's files alone."""
    arts = []
    for p in sorted(glob.glob(os.path.join(bundle, "artifacts", "*.json"))):
        arts.append(json.load(open(p, encoding="utf-8")))
    rots = [json.load(open(p, encoding="utf-8"))
            for p in sorted(glob.glob(os.path.join(bundle, "keys", "[0-9]*.json")))]
    ev = [a["event"]["type"] for a in arts]
    dep = [a for a in arts if a["event"]["type"] not in ("rotate", "drift-check", "reconcile")]
    actors, idents = set(), set()
    res = {}
    for a in arts:
        if a["event"]["type"] == "rotate":
            continue
        c = a.get("context", {})
        ci = c.get("ci", {}) if isinstance(c.get("ci"), dict) else {}
        for v in (ci.get("actor"), ci.get("user"), ci.get("job_name"), c.get("host")):
            if isinstance(v, str):
                actors.add(v)
                break
        if "identity" in a:
            idents.add((a["identity"]["subject"], a["identity"]["issuer"]))
        for ch in a.get("terraform", {}).get("changes", []):
            if isinstance(ch.get("address"), str):
                res.setdefault(ch["address"], []).append("%d: %s" % (a["seq"], ch.get("action", "")))
    times = sorted(a["time"] for a in arts)
    return {
        "seqs": [a["seq"] for a in arts],
        "sum-period": (times[0], times[-1]),
        "sum-records": len(arts),
        "sum-deployments": len(dep),
        "dep-failed": sum(a["event"]["status"] != "succeeded" for a in dep),
        "sum-failures": sum(a["event"]["status"] != "succeeded" for a in arts),
        "sum-rollbacks": ev.count("rollback"),
        "sum-drift": ev.count("drift-check"),
        "sum-reconciles": ev.count("reconcile"),
        "sum-actors": len(actors),
        "sum-identities": len(idents),
        "sum-keys": 1 + len(rots),
        "rotations": {a["seq"]: a["rotation"] for a in arts if a["event"]["type"] == "rotate"},
        "resources": res,
    }


def facts(page, bundle):
    s = scan(page)
    e = expected(bundle)
    bad = []

    def num(rid):
        for text, d, ids in s.by_class.get("n", []):
            if rid in ids:
                return norm(text)
        return None

    for k in ("sum-records", "sum-deployments", "sum-failures", "sum-rollbacks", "sum-actors",
              "sum-identities", "sum-keys"):
        if num(k) != str(e[k]):
            bad.append("%s: page %r, bundle %r" % (k, num(k), e[k]))
    for k in ("sum-drift", "sum-reconciles"):
        if e[k] and num(k) != str(e[k]):
            bad.append("%s: page %r, bundle %r" % (k, num(k), e[k]))
        if not e[k] and k in s.by_id:
            bad.append("%s shown for a bundle without any" % k)
    dep_text = norm(s.by_id.get("sum-deployments", ""))
    want = "%d succeeded, %d failed" % (e["sum-deployments"] - e["dep-failed"], e["dep-failed"])
    if want not in dep_text:
        bad.append("deployments row %r lacks %r" % (dep_text, want))
    period = norm(s.by_id.get("sum-period", ""))
    if not period.startswith("Period covered %s to %s" % e["sum-period"]):
        bad.append("period %r, bundle %s to %s" % ((period,) + e["sum-period"]))
    # The chart: its bins add up to the deployments, by outcome.
    bins = [d for _, d, _ in s.by_class.get("bin", [])]
    ok = sum(int(d.get("data-succeeded", 0)) for d in bins)
    failed = sum(int(d.get("data-failed", 0)) for d in bins)
    if e["sum-deployments"] and (ok, failed) != (e["sum-deployments"] - e["dep-failed"],
                                                  e["dep-failed"]):
        bad.append("chart bins hold %d succeeded, %d failed; bundle %d, %d" %
                   (ok, failed, e["sum-deployments"] - e["dep-failed"], e["dep-failed"]))
    # Keys: one row each; each rotation in range shows its new key and proof of possession.
    keys = [d for _, d, _ in s.by_class.get("key", [])]
    if len(keys) != e["sum-keys"]:
        bad.append("%d key rows, bundle has %d keys" % (len(keys), e["sum-keys"]))
    newkeys = [norm(t) for t, _, ids in s.by_class.get("newkey", []) if "keys" in ids]
    pops = [norm(t) for t, _, ids in s.by_class.get("pop", []) if "keys" in ids]
    for seq, r in sorted(e["rotations"].items()):
        if r["new_key_fingerprint"] not in newkeys:
            bad.append("rotation %d: new key %s not in the key table" %
                       (seq, r["new_key_fingerprint"]))
        if r["pop_signature"] not in pops:
            bad.append("rotation %d: proof of possession not in the key table" % seq)
        row = norm(s.by_id.get("tl-%d" % seq, ""))
        if r["new_key_fingerprint"] not in row or "unknown" in row:
            bad.append("timeline row %d does not show the new key: %r" % (seq, row))
    # Resources: every address, each with every record that touched it and the action.
    addrs = [norm(t) for t, _, ids in s.by_class.get("addr", []) if "resources" in ids]
    lists = [norm(t) for t, _, ids in s.by_class.get("touches", []) if "resources" in ids]
    page_res = {a: l.split(", ") for a, l in zip(addrs, lists)}
    if len(page_res) != len(addrs) or len(addrs) != len(lists):
        bad.append("resource rows are malformed or repeat an address")
    if page_res != e["resources"]:
        missing = {k: v for k, v in e["resources"].items() if page_res.get(k) != v}
        extra = {k: v for k, v in page_res.items() if e["resources"].get(k) != v}
        bad.append("resource index differs: bundle %r, page %r" % (missing, extra))
    if s.tl_rows != ["tl-%d" % x for x in e["seqs"]]:
        bad.append("timeline rows %r, bundle seqs %r" % (s.tl_rows, e["seqs"]))
    if bad:
        sys.exit("page and bundle differ:\n  " + "\n  ".join(bad))
    print("records %d, deployments %d (%d failed), keys %d, resources %d: all match" %
          (e["sum-records"], e["sum-deployments"], e["dep-failed"], e["sum-keys"],
           len(e["resources"])))


# Runs in a copy of the page only (the report has no script and forbids one): measures every
# record label and its value, and writes what it found into the page for --dump-dom.
GEOM_JS = r"""
<script>
window.addEventListener('load', function () {
  function rects(el) {
    var r = document.createRange(); r.selectNodeContents(el);
    return Array.prototype.slice.call(r.getClientRects());
  }
  function meet(a, b) {
    return a.left < b.right - 0.5 && b.left < a.right - 0.5 &&
           a.top < b.bottom - 0.5 && b.top < a.bottom - 0.5;
  }
  var pairs = 0, bad = [];
  document.querySelectorAll('dl').forEach(function (dl) {
    var kids = dl.children;
    for (var i = 0; i + 1 < kids.length; i += 2) {
      var dt = kids[i], dd = kids[i + 1];
      if (dt.tagName !== 'DT' || dd.tagName !== 'DD') continue;
      pairs++;
      var box = dt.getBoundingClientRect(), vbox = dd.getBoundingClientRect();
      var over = rects(dt).some(function (a) {
        return a.right > box.right + 0.5 || rects(dd).some(function (b) { return meet(a, b); });
      }) || rects(dd).some(function (b) { return b.right > vbox.right + 0.5; });
      if (over && bad.length < 5) bad.push(dt.textContent);
      else if (over) bad.push('');
    }
  });
  var out = document.createElement('pre');
  out.id = 'geom';
  out.textContent = JSON.stringify({pairs: pairs, overlaps: bad.length, first: bad.slice(0, 5)});
  document.body.appendChild(out);
});
</script>
"""


def geom_page(page, out, css=None):
    t = open(page, encoding="utf-8").read()
    t = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", t)
    extra = "<style>%s</style>" % open(css).read() if css else ""
    t = t.replace("</head>", extra + "</head>", 1).replace("</body>", GEOM_JS + "</body>", 1)
    open(out, "w", encoding="utf-8").write(t)


def geom(dom):
    m = re.search(r'<pre id="geom">(.*?)</pre>', open(dom, encoding="utf-8").read(), re.S)
    if not m:
        sys.exit("the measuring page left no result")
    r = json.loads(html.unescape(m.group(1)))
    if r["pairs"] == 0:
        sys.exit("no record label was measured")
    if r["overlaps"]:
        sys.exit("%d of %d labels overlap their value or overflow, e.g. %r" %
                 (r["overlaps"], r["pairs"], r["first"]))
    print("%d label/value pairs, none overlapping" % r["pairs"])


def pdf(path):
    b = open(path, "rb").read()
    if not b.startswith(b"%PDF-"):
        sys.exit("not a PDF")
    pages = len(re.findall(rb"/Type\s*/Page[^s]", b))
    if pages < 1:
        sys.exit("a PDF without pages")
    print("%d pages, %d bytes" % (pages, len(b)))


def main():
    mode, path = sys.argv[1], sys.argv[2]
    if mode == "static":
        s = scan(path)
        if s.problems:
            sys.exit("not self-contained: " + "; ".join(s.problems))
    elif mode == "dom":
        s = scan(path)
        if s.problems:
            sys.exit("DOM not self-contained: " + "; ".join(s.problems))
        want = ["tl-%s" % x for x in sys.argv[3:]]
        if s.tl_rows != want:
            sys.exit("timeline rows %r, wanted %r" % (s.tl_rows, want))
    elif mode == "netlog":
        d = json.load(open(path))
        page = [e["params"]["url"] for e in d.get("events", [])
                if "url" in e.get("params", {})
                and e["params"].get("initiator") not in (None, "not an origin")]
        if page:
            sys.exit("the page requested: %r" % sorted(set(page)))
    elif mode == "text":
        s = scan(path)
        if sys.argv[3] not in s.by_id:
            sys.exit("no element with id %s" % sys.argv[3])
        print(norm(s.by_id[sys.argv[3]]))
    elif mode == "facts":
        facts(path, sys.argv[3])
    elif mode == "geom-page":
        geom_page(path, sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else None)
    elif mode == "geom":
        geom(path)
    elif mode == "pdf":
        pdf(path)
    else:
        sys.exit("unknown mode")


main()
