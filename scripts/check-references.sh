#!/usr/bin/env bash
# Keep the repository self-contained: no citation of documents that live outside it, no
# section signs pointing into them, no absolute machine paths, and every `docs/…md` path
# mentioned in a tracked file must exist. Prints one line per offending line; exit 1 if any.
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
outside='§|(behaviour|baseline|swamp-extension|gcs-api|wasm-notes|style)\.md|shared/docs|/work/|/home/'
while IFS= read -r hit; do
  echo "check-references: outside reference: $hit"
  status=1
done < <(grep -n -I -E "$outside" -- "${files[@]}" 2>/dev/null || true)

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
