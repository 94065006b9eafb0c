#!/usr/bin/env python3
"""Prints the suite's one summary line from the figures the tests recorded in
$STINT_PROOF_DIR/proof.jsonl (see tests/src/lib.rs, module `proof`). Exits 1 when a figure is
wrong: a wrongly appended event, a duplicate effect, undetected tampering, a successful attack,
or a missing part."""
import json
import os
import sys

path = os.path.join(os.environ["STINT_PROOF_DIR"], "proof.jsonl")
parts = {"bad_input": [], "duplicates": [], "tampering": [], "fuzz": [], "attacks": []}
try:
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                rec = json.loads(line)
                parts.setdefault(rec["part"], []).append(rec["figures"])
except FileNotFoundError:
    pass

bad = parts["bad_input"]
tried = sum(r["tried"] for r in bad)
refused = sum(r["refused"] for r in bad)
no_effect = sum(r["accepted_without_effect"] for r in bad)
wrongly = sum(r["wrongly_appended"] for r in bad)
transports = ", ".join(f'{r["tried"]} {r["transport"]}' for r in bad)
dups = parts["duplicates"]
deliveries = sum(r["deliveries"] for r in dups)
dup_effects = sum(r["duplicate_effects"] for r in dups)
tamper = parts["tampering"]
detected = sum(1 for r in tamper if r["detected"])
pct = 100.0 * detected / len(tamper) if tamper else 0.0

fuzz = parts["fuzz"]
fuzzed = sum(r["generated"] for r in fuzz)
fuzz_passed = sum(r["passed"] for r in fuzz)
fuzz_failed = sum(r["failed"] for r in fuzz) + sum(1 for r in fuzz if r["exit"] != 0)

attacks = parts["attacks"]
attacks_won = sum(1 for r in attacks if r["succeeded"])

print(
    f"STINT PROOF: API fuzzing {fuzzed} cases, {fuzz_passed} passed, {fuzz_failed} failed; bad input {tried} cases tried ({transports}), {refused} correctly refused, "
    f"{no_effect} accepted without effect, {wrongly} events appended wrongly; "
    f"duplicate delivery {deliveries} deliveries in {len(dups)} tests, {dup_effects} duplicate effects; "
    f"tampering detected {detected}/{len(tamper)} ({pct:.0f}%); "
    f"attacks {len(attacks)} tried, {attacks_won} succeeded"
)
problems = []
if len(bad) < 2 or tried < 100:
    problems.append("the bad-input table did not run on both transports")
if wrongly or dup_effects:
    problems.append("events appended wrongly or duplicate effects")
if refused + no_effect != tried:
    problems.append("some bad-input cases were not handled as expected")
if not fuzz or fuzz_failed or fuzzed == 0:
    problems.append("API fuzzing did not run, or failed")
if len(dups) < 6 or len(tamper) < 9 or detected != len(tamper):
    problems.append("duplicate-delivery or tampering figures are missing or short")
if len(attacks) < 30 or attacks_won:
    problems.append("the attacks table is short, or an attack succeeded")
for p in problems:
    print(f"proof: {p}", file=sys.stderr)
sys.exit(1 if problems else 0)
