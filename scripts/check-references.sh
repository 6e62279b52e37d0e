#!/usr/bin/env bash
# Keep the repository self-contained: no section signs, no Markdown document named that the
# repository does not hold, no path of the machine running the check, and every
# `docs/…md` path mentioned in a tracked file must exist. Prints one line per offending
# line; exit 1 if any.
set -euo pipefail
cd "$(dirname "$0")/.."

# Generated or vendored trees, never checked.
SKIP='^(target/|extension/dist/|extension/datastores/_generated/)|(^|/)node_modules/'

files=()
while IFS= read -r f; do
  [[ "$f" =~ $SKIP ]] && continue
  [[ "$f" == scripts/check-references.sh ]] && continue
  [[ -f "$f" ]] && files+=("$f")
done < <(git ls-files)

status=0

# Section signs: they point into numbered documents, which live elsewhere.
while IFS= read -r hit; do
  echo "check-references: section sign: $hit"
  status=1
done < <(grep -n -I -F '§' -- "${files[@]}" 2>/dev/null || true)

# Every Markdown document named anywhere must be one the repository holds (by file name),
# so no comment or test can lean on a document that is not here.
declare -A tracked_md=()
for f in "${files[@]}"; do
  [[ "$f" == *.md ]] && tracked_md["${f##*/}"]=1
done
while IFS=: read -r file line ref; do
  if [[ -z "${tracked_md[${ref##*/}]:-}" ]]; then
    echo "check-references: document not in the repository: $file:$line: $ref"
    status=1
  fi
done < <(grep -n -o -I -E '[A-Za-z0-9_.-]*[A-Za-z0-9_-]\.md\b' -- "${files[@]}" 2>/dev/null || true)

# Machine paths: the directory this checkout lives in and the user's home, as they are
# on the machine running the check (derived, so the script names no machine).
parent="$(cd .. && pwd)"
for prefix in "$parent" "${HOME:-}"; do
  [[ -z "$prefix" || "$prefix" == "/" ]] && continue
  while IFS= read -r hit; do
    echo "check-references: machine path: $hit"
    status=1
  done < <(grep -n -I -F "$prefix/" -- "${files[@]}" 2>/dev/null || true)
done

# Every docs/<name>.md path mentioned anywhere must exist (relative links from inside
# docs/ or fixtures/ resolve to the same files).
while IFS=: read -r file line ref; do
  doc="docs/${ref##*docs/}"
  if [[ ! -f "$doc" ]]; then
    echo "check-references: missing document: $file:$line: $ref"
    status=1
  fi
done < <(grep -n -o -I -E 'docs/[A-Za-z0-9_-]+\.md' -- "${files[@]}" 2>/dev/null || true)

if ((status)); then
  echo "check-references: cite docs/<file>.md#<heading> inside the repository instead" >&2
fi
exit "$status"
