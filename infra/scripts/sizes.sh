#!/usr/bin/env bash
# The deployed size of each function: `--profile lambda`, one package at a time as the Makefile
# builds them for SAM (x86_64 here; SAM builds arm64 with cargo-lambda). Also checks which
# functions link SQLite and the time-zone database. Prints a Markdown table.
set -euo pipefail
cd "$(dirname "$0")/../.."
target="${CARGO_TARGET_DIR:-target}"
functions=(request approve grant revoke relay notify report)
echo "| function | bytes (stripped) | links rusqlite | links chrono-tz |"
echo "| --- | ---: | :---: | :---: |"
for f in "${functions[@]}"; do
  cargo build --quiet --profile lambda -p "stint-$f" >&2
  size=$(stat -c %s "$target/lambda/stint-$f")
  tree=$(cargo tree -p "stint-$f" -e normal --prefix none)
  sqlite=$(grep -q '^rusqlite ' <<<"$tree" && echo yes || echo no)
  tz=$(grep -q '^chrono-tz ' <<<"$tree" && echo yes || echo no)
  printf '| stint-%s | %s | %s | %s |\n' "$f" "$(printf "%'d" "$size")" "$sqlite" "$tz"
done
