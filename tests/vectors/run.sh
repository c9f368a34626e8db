#!/bin/sh
# Checks a verifier command against the conformance vectors' index.json.
# usage: run.sh [--tfattest BIN | 'CMD'] [--only NAME]... [--expect-fail-list FILE] [-v]
# (run.sh --help, or README.md, describes the placeholders of CMD.)
# Needs only a python3 with its standard library.
here=$(cd "$(dirname "$0")" && pwd)
py=python3
command -v python3 > /dev/null 2>&1 || py=/usr/bin/python3
exec "$py" "$here/run.py" "$@"
