#!/usr/bin/env bash
# Set up msp-nlp in ./.venv and run the checker on the bundled demo export.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -c constraints.txt -e ".[test]"
.venv/bin/msp-nlp check data/demo/case_notes.csv -o out/demo \
  --id-col "Note ID" --case-col "Episode ID" --date-col "Date Recorded" --type-col "Note Type" \
  --name-col "Person Known As" --author-col "Worker" --team-col "Team" --text-col "Case Note" --report
echo "Demo results are in out/demo/ (notes.jsonl, cases.jsonl, notes.csv, cases.csv, errors.csv)."
echo "Reviewer report: out/demo/report.html (open it in a browser) and out/demo/report.xlsx."
# Headless Chromium for the report's browser test (tests/test_report_browser.py skips without it).
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium) \
    || echo "chromium not installed: browser tests will skip"
elif ! command -v chromium >/dev/null; then
  echo "chromium not installed (needs root and apt-get): browser tests will skip"
fi
