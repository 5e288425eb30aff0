"""A deterministic workload of commands: many policies over several policy years
with a realistic mix of claims, exclusions, interim payouts, re-assessments and
reversals. The same seed and size always give the same commands.

Used by ``make bench`` and by tests that need a ledger of thousands of events:
``python -m tests.workload --events 20000 --seed 7 > commands.jsonl``.
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import random
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

from adapters.cli.output import whole_number

EVENTS = {"attach_coverage": 4, "file_claim": 1, "issue_payout": 2, "reverse_payout": 2,
          "assess_loss": 1, "apply_exclusion": 1, "close_claim": 1, "withdraw_claim": 1}
"""Events each command appends (a claim opening a new policy year adds 3 more)."""
DATA_EXCLUSIONS = ("natural_disaster", "inherent_defect_or_wear", "misplacement_or_disposal")
LIABILITY_EXCLUSIONS = ("non_performance_or_delay", "ip_infringement", "unapproved_settlement")
CAUSES = ("unauthorized_access", "virus", "misoperation", "server_failure", "other")
LAST_DAY = date(2026, 10, 31)


def _claim(rng: random.Random, policy: str, claim: str, start: date) -> list[dict[str, Any]]:
    """One claim's commands, in the order they would arrive."""
    incident = start + timedelta(days=rng.randrange((LAST_DAY - start).days - 40))
    liability = rng.random() < 0.4
    loss = rng.choice([rng.randrange(50_000, 1_500_000, 1000),
                       rng.randrange(300_000, 4_000_000, 1000)] if liability
                      else [rng.randrange(50_000, 1_200_000, 1000)])
    filing: dict[str, Any] = {
        "command": "file_claim", "claim_id": claim, "policy_id": policy,
        "coverage": "it_liability" if liability else "data_media",
        "cause": rng.choice(CAUSES), "incident_date": incident.isoformat(),
        "loss_amount": loss, "description": "generated claim"}
    if liability:
        filing["claim_made_on"] = (incident + timedelta(days=rng.randrange(1, 30))).isoformat()
    out: list[dict[str, Any]] = [filing]
    roll = rng.random()
    if roll < 0.1:
        codes = LIABILITY_EXCLUSIONS if liability else DATA_EXCLUSIONS
        out.append({"command": "apply_exclusion", "claim_id": claim,
                    "exclusion": rng.choice(codes), "reason": "excluded on review"})
        return out
    if roll < 0.15:
        out.append({"command": "withdraw_claim", "claim_id": claim, "reason": "withdrawn"})
        return out
    if rng.random() < 0.2:
        out.append({"command": "assess_loss", "claim_id": claim,
                    "loss_amount": loss + rng.randrange(10_000, 200_000, 1000),
                    "reason": "final invoice"})
    if rng.random() < 0.3:
        out.append({"command": "issue_payout", "claim_id": claim,
                    "amount": rng.randrange(10_000, 50_000, 1000)})
    out.append({"command": "issue_payout", "claim_id": claim,
                "command_id": f"pay-{claim}"})
    if rng.random() < 0.05:
        out.append({"command": "reverse_payout", "claim_id": claim, "payout_id": "payout-1",
                    "reason": "paid in error"})
        out.append({"command": "issue_payout", "claim_id": claim})
    out.append({"command": "close_claim", "claim_id": claim, "reason": "settled"})
    return out


def commands(events: int, seed: int = 7) -> Iterator[dict[str, Any]]:
    """About ``events`` events' worth of commands (the count is an estimate)."""
    rng = random.Random(seed)
    budget = 0
    claims: list[tuple[float, int, list[dict[str, Any]]]] = []
    n = 0
    while budget < events:
        n += 1
        policy = f"P{n:07d}"
        start = date(2019, 1, 1) + timedelta(days=rng.randrange(5 * 365))
        yield {"command": "attach_coverage", "policy_id": policy,
               "customer_id": f"CU{n:07d}", "customer_name": f"顧客 {n}",
               "financial_institution": False, "screening_passed": True,
               "firewall_option": rng.choice(["shared", "dedicated"]),
               "firewall_applied_on": start.isoformat(), "service_start": start.isoformat()}
        budget += EVENTS["attach_coverage"]
        for k in range(rng.choice([0, 1, 1, 2, 2, 3, 4, 6])):
            sequence = _claim(rng, policy, f"{policy}-C{k}", start)
            budget += sum(EVENTS[c["command"]] for c in sequence) + 1
            heapq.heappush(claims, (rng.random() + n / 50, len(claims), sequence))
        while claims and claims[0][0] < n / 50:
            _, tie, sequence = heapq.heappop(claims)
            yield sequence.pop(0)
            if sequence:
                heapq.heappush(claims, (claims[0][0] + rng.random() if claims else n / 50,
                                        tie, sequence))
    while claims:
        _, tie, sequence = heapq.heappop(claims)
        yield sequence.pop(0)
        if sequence:
            heapq.heappush(claims, (rng.random() + n / 50, tie, sequence))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.workload",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=whole_number(1), default=10_000,
                        help="about how many events (e.g. 1e6)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    try:
        for command in commands(args.events, args.seed):
            sys.stdout.write(json.dumps(command, ensure_ascii=False) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:  # the reader stopped early (`| head`): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


if __name__ == "__main__":
    sys.exit(main())
