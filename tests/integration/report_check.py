"""Checks an HTML report: self-contained, and its timeline complete.

usage: report_check.py static REPORT.html
       report_check.py dom DUMPED_DOM.html SEQ...     timeline rows are exactly these seqs
       report_check.py netlog NETLOG.json             the page itself requested nothing
Exits 1 with a message on the first problem. Standard library only.
"""
import html.parser
import json
import re
import sys

FORBIDDEN_TAGS = {"script", "link", "img", "iframe", "object", "embed", "video", "audio",
                  "source", "frame", "form", "base", "svg", "picture", "track"}
FORBIDDEN_ATTRS = {"src", "href", "srcset", "action", "formaction", "poster", "data",
                   "background", "ping", "xlink:href"}


class Scan(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems = []
        self.tl_rows = []
        self.in_style = False

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

    def handle_endtag(self, tag):
        if tag == "style":
            self.in_style = False

    def handle_data(self, data):
        if self.in_style and re.search(r"url\(|@import|@font-face", data, re.I):
            self.problems.append("external reference in <style>")


def scan(path):
    s = Scan()
    s.feed(open(path, encoding="utf-8").read())
    s.close()
    return s


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
    else:
        sys.exit("unknown mode")


main()
