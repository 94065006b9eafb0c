#!/usr/bin/env bash
# The deployed size of each function: `--profile lambda`, one package at a time as the Makefile
# builds them for SAM (x86_64 here; SAM builds arm64 with cargo-lambda). Also checks which
# functions link SQLite and a time-zone database (jiff's bundled copy; chrono-tz before).
# Prints a Markdown table.
set -euo pipefail
cd "$(dirname "$0")/../.."
target="${CARGO_TARGET_DIR:-target}"
functions=(request alerts approve grant revoke relay notify report interactions)
echo "| function | bytes (stripped) | links rusqlite | links a time-zone database |"
echo "| --- | ---: | :---: | :---: |"
for f in "${functions[@]}"; do
  cargo build --quiet --profile lambda -p "stint-$f" >&2
  size=$(stat -c %s "$target/lambda/stint-$f")
  tree=$(cargo tree -p "stint-$f" -e normal --prefix none)
  sqlite=$(grep -q '^rusqlite ' <<<"$tree" && echo yes || echo no)
  tz=$(grep -Eq '^(jiff|chrono-tz) ' <<<"$tree" && echo yes || echo no)
  printf '| stint-%s | %s | %s | %s |\n' "$f" "$(sed ':a;s/\B[0-9]\{3\}\>/,&/;ta' <<<"$size")" "$sqlite" "$tz"
done
