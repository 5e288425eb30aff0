"""A deterministic workload of commands: many policies over several policy years
with a realistic mix of claims, exclusions, interim payouts, re-assessments and
reversals. The same seed and size always give the same commands.

Used by ``make bench`` and by tests that need a ledger of thousands of events:
``python -m tests.workload --events 20000 --seed 7 > commands.jsonl``.

A shaped file (:func:`shaped`): lines over policies, one coverage or both, a
share of them payouts refused by a used-up annual limit, each policy's claims
after its attach: ``python -m tests.workload --policies 40000 --lines 100000
--coverage it_liability --refused 0``, or ``make bench``'s ``--shape c``.
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from adapters.cli.output import whole_number
from domain.policy import anniversary
from domain.terms import Coverage, terms_in_force

EVENTS = {"attach_coverage": 4, "file_claim": 1, "issue_payout": 2, "reverse_payout": 2,
          "assess_loss": 1, "apply_exclusion": 1, "close_claim": 1, "withdraw_claim": 1}
"""Events each command appends (a claim opening a new policy year adds 3 more)."""
DATA_EXCLUSIONS = ("natural_disaster", "inherent_defect_or_wear", "misplacement_or_disposal")
LIABILITY_EXCLUSIONS = ("non_performance_or_delay", "ip_infringement", "unapproved_settlement")
CAUSES = ("unauthorized_access", "virus", "misoperation", "server_failure", "other")
LAST_DAY = date(2026, 10, 31)


def _settled(rng: random.Random, claim: str) -> list[dict[str, Any]]:
    """A paid claim's last commands: now and then its payout reversed and paid again; closed."""
    again = [{"command": "reverse_payout", "claim_id": claim, "payout_id": "payout-1",
              "reason": "paid in error"},
             {"command": "issue_payout", "claim_id": claim}] if rng.random() < 0.05 else []
    return [*again, {"command": "close_claim", "claim_id": claim, "reason": "settled"}]


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
    return out + _settled(rng, claim)


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


COVERAGE_MIXES = ("data_media", "it_liability", "mixed")
MAX_REFUSED = 0.45  # a refused payout needs its own filing, its year a used-up limit
LINES_PER_CLAIM = 3.3  # about how many lines a claim of a shaped file takes
_TERMS = {c.value: terms_in_force(date(2019, 1, 1)).coverage(c) for c in Coverage}


@dataclass(frozen=True)
class Shape:
    """What a shaped file holds: ``lines`` lines over ``policies`` policies, whose
    claims are of one coverage or ``mixed`` (about 40% liability), with about
    ``refused`` of the lines payouts refused by a used-up annual limit."""

    policies: int
    lines: int
    coverage: str = "mixed"
    refused: float = 0.0
    title: str = ""

    def scaled(self, lines: int) -> Shape:
        """The same shape in ``lines`` lines (as many claims per policy)."""
        return replace(self, lines=lines,
                       policies=max(1, round(self.policies * lines / self.lines)))

    def problem(self) -> str | None:
        """Why this shape cannot be generated (naming the option), or None."""
        if self.coverage not in COVERAGE_MIXES:
            return f"--coverage must be one of {', '.join(COVERAGE_MIXES)}, not {self.coverage!r}"
        if not 0 <= self.refused <= MAX_REFUSED:
            return f"--refused must be a share from 0 to {MAX_REFUSED}, not {self.refused}"
        if self.policies > self.lines:
            return (f"--policies must be at most --lines ({self.lines:,}): each policy's "
                    "attach is a line")
        refused = round(self.refused * self.lines)
        used_up = 3 * (1 if self.coverage == "data_media" else 2)  # lines a year takes
        needed = self.policies + 2 * refused + used_up * min(self.policies, -(-refused // 4))
        if needed > self.lines:
            return (f"--refused {self.refused}: {refused:,} refused lines with "
                    f"{self.policies:,} policies need about {needed:,} lines, not "
                    f"{self.lines:,}")
        return None


SHAPES = {
    "a": Shape(5_000, 100_000, "mixed", 0.25, "5,000 policies, mixed, 25% refused"),
    "b": Shape(2_000, 100_000, "it_liability", 0.0, "2,000 policies, liability"),
    "c": Shape(40_000, 100_000, "it_liability", 0.0,
               "40,000 policies, liability, few claims each"),
    "d": Shape(16_666, 100_000, "data_media", 0.0, "16,666 policies, data/media"),
}
"""``make bench``'s named shapes (issue 28's table), at 100,000 lines each."""


@dataclass
class _Year:
    """One policy year: its dates, and per coverage what the payouts planned in
    it leave of the annual limit."""

    start: date
    end: date
    left: dict[str, int]


@dataclass
class _Policy:
    id: str
    at: float  # where its attach is in the file (0..1): its claims come after
    years: list[_Year]
    claims: int = 0


def _dates(rng: random.Random, year: _Year, coverage: str) -> dict[str, str]:
    """Dates of a claim in ``year``: liability claims are made within 30 days
    of the incident (claims-made: the claim's date picks the year)."""
    day = year.start + timedelta(days=rng.randrange((year.end - year.start).days + 1))
    if coverage == "it_liability":
        incident = max(year.start, day - timedelta(days=rng.randrange(30)))
        return {"incident_date": incident.isoformat(), "claim_made_on": day.isoformat()}
    return {"incident_date": day.isoformat()}


def _filing(rng: random.Random, policy: _Policy, coverage: str, year: _Year,
            loss: int) -> dict[str, Any]:
    policy.claims += 1
    return {"command": "file_claim", "claim_id": f"{policy.id}-C{policy.claims}",
            "policy_id": policy.id, "coverage": coverage, "cause": rng.choice(CAUSES),
            **_dates(rng, year, coverage), "loss_amount": loss,
            "description": "generated claim"}


def _paid(rng: random.Random, policy: _Policy, coverage: str) -> list[dict[str, Any]]:
    """A claim that is never refused: excluded, withdrawn, or paid (within what
    its year's planned payouts leave of the annual limit) and closed."""
    terms = _TERMS[coverage]
    open_years = [y for y in policy.years if y.left[coverage] >= 120_000]
    year = rng.choice(open_years or policy.years)
    room = min(int(terms.per_incident_limit), year.left[coverage])
    roll = rng.random()
    if roll < 0.15 or not open_years:
        filing = _filing(rng, policy, coverage, year,
                         rng.randrange(50_000, 1_200_000, 1000))
        codes = LIABILITY_EXCLUSIONS if coverage == "it_liability" else DATA_EXCLUSIONS
        return [filing, {"command": "apply_exclusion", "claim_id": filing["claim_id"],
                         "exclusion": rng.choice(codes), "reason": "excluded on review"}
                if roll < 0.1 else
                {"command": "withdraw_claim", "claim_id": filing["claim_id"],
                 "reason": "withdrawn"}]
    payable = rng.randrange(60_000, room // 2 + 1, 1000)
    year.left[coverage] -= payable
    loss = int(terms.deductible) + payable
    assessed = rng.random() < 0.2
    more = rng.randrange(10_000, min(200_000, payable - 10_000), 1000) if assessed else 0
    filing = _filing(rng, policy, coverage, year, loss - more)
    claim = filing["claim_id"]
    out = [filing]
    if assessed:
        out.append({"command": "assess_loss", "claim_id": claim, "loss_amount": loss,
                    "reason": "final invoice"})
    if rng.random() < 0.3:
        out.append({"command": "issue_payout", "claim_id": claim,
                    "amount": rng.randrange(10_000, min(50_000, payable - 10_000), 1000)})
    out.append({"command": "issue_payout", "claim_id": claim, "command_id": f"pay-{claim}"})
    return out + _settled(rng, claim)


def _spread(rng: random.Random, lines: list[dict[str, Any]], after: float,
            before: float = 1.0) -> list[tuple[float, dict[str, Any]]]:
    """Each of ``lines`` placed in the file between ``after`` and ``before``, in order."""
    places = sorted(rng.uniform(after, before) for _ in lines)
    return list(zip(places, lines, strict=True))


def _used_up(rng: random.Random, policy: _Policy, coverage: str,
             refused: int) -> list[tuple[float, dict[str, Any]]]:
    """A year whose annual limit claims use up (one data/media claim, or two
    liability claims, each at its per-incident limit), then ``refused`` claims
    of the year whose payouts the ledger refuses, placed after those."""
    terms = _TERMS[coverage]
    year = rng.choice(policy.years)
    year.left[coverage] = 0
    placed: list[tuple[float, dict[str, Any]]] = []
    latest = policy.at
    for _ in range(-(-int(terms.annual_limit) // int(terms.per_incident_limit))):
        loss = int(terms.deductible + terms.per_incident_limit) + rng.randrange(0, 300_000, 1000)
        filing = _filing(rng, policy, coverage, year, loss)
        claim = filing["claim_id"]
        lines = _spread(rng, [filing, {"command": "issue_payout", "claim_id": claim},
                              {"command": "close_claim", "claim_id": claim,
                               "reason": "settled"}],
                        policy.at, policy.at + (1 - policy.at) * 0.4)
        latest = max(latest, lines[1][0])
        placed += lines
    for _ in range(refused):
        filing = _filing(rng, policy, coverage, year,
                         int(terms.deductible) + rng.randrange(50_000, 500_000, 1000))
        placed += _spread(rng, [filing, {"command": "issue_payout",
                                         "claim_id": filing["claim_id"]}], latest)
    return placed


def _policy(rng: random.Random, n: int, at: float) -> tuple[_Policy, dict[str, Any]]:
    """Policy ``n``'s attach, and its years up to 40 days before ``LAST_DAY``."""
    policy_id = f"P{n:07d}"
    start = date(2019, 1, 1) + timedelta(days=rng.randrange(5 * 365))
    years: list[_Year] = []
    while (first := anniversary(start, len(years))) <= LAST_DAY - timedelta(days=40):
        end = min(anniversary(start, len(years) + 1) - timedelta(days=1), LAST_DAY)
        years.append(_Year(first, end, {c: int(t.annual_limit) for c, t in _TERMS.items()}))
    attach = {"command": "attach_coverage", "policy_id": policy_id,
              "customer_id": f"CU{n:07d}", "customer_name": f"顧客 {n}",
              "financial_institution": False, "screening_passed": True,
              "firewall_option": rng.choice(["shared", "dedicated"]),
              "firewall_applied_on": start.isoformat(), "service_start": start.isoformat()}
    return _Policy(policy_id, at, years), attach


def _coverage(rng: random.Random, mix: str) -> str:
    return mix if mix != "mixed" else rng.choices(tuple(_TERMS), (6, 4))[0]


def shaped(shape: Shape, seed: int = 7) -> list[dict[str, Any]]:
    """The commands of a file of ``shape`` (exactly ``shape.lines`` of them):
    the policies attach over the first 70% of the file, each claim's lines
    come in order after its policy's attach, and the same seed gives the same
    file. Only the payouts planned as refused are refused."""
    problem = shape.problem()
    if problem:
        raise ValueError(problem)
    rng = random.Random(seed)
    placed: list[tuple[float, dict[str, Any]]] = []
    policies = []
    for n in range(shape.policies):
        policy, attach = _policy(rng, n + 1, (n + rng.random()) / shape.policies * 0.7)
        policies.append(policy)
        placed.append((policy.at, attach))
    refused = round(shape.refused * shape.lines)
    years = min(shape.policies, -(-refused // 4))
    for k, policy in enumerate(rng.sample(policies, years)):
        placed += _used_up(rng, policy, _coverage(rng, shape.coverage),
                           refused // years + (k < refused % years))
    while len(placed) < shape.lines:
        policy = rng.choice(policies)
        lines = _paid(rng, policy, _coverage(rng, shape.coverage))
        placed += _spread(rng, lines[:shape.lines - len(placed)], policy.at)
    order = sorted(range(len(placed)), key=lambda i: (placed[i][0], i))
    return [placed[i][1] for i in order]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tests.workload",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=whole_number(1),
                        help="about how many events (e.g. 1e6; default 10,000)")
    parser.add_argument("--seed", type=int, default=7)
    shape = parser.add_argument_group(
        "a shaped file (instead of --events)",
        "exactly --lines lines over --policies policies (or a named --shape)")
    shape.add_argument("--shape", choices=sorted(SHAPES),
                       help="a named shape of `make bench`: "
                       + "; ".join(f"{k}: {v.title.replace('%', '%%')}" for k, v in SHAPES.items()))
    shape.add_argument("--shape-lines", type=whole_number(1),
                       help="--shape in this many lines (default 100,000), as many "
                       "claims per policy")
    shape.add_argument("--policies", type=whole_number(1), help="distinct policies")
    shape.add_argument("--lines", type=whole_number(1), help="lines in the file")
    shape.add_argument("--claims-per-policy", type=float, metavar="K",
                       help="instead of --lines: about K claims per policy "
                       f"(--lines = policies x (1 + {LINES_PER_CLAIM} K))")
    shape.add_argument("--coverage", choices=COVERAGE_MIXES, default="mixed",
                       help="the claims' coverage (mixed: about 40%% liability)")
    shape.add_argument("--refused", type=float, default=0.0,
                       help="share of the lines that are payouts refused because the "
                       "policy year's annual limit is used up (default 0: nothing is "
                       f"refused; at most {MAX_REFUSED})")
    return parser


def _shape(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Shape | None:
    """The shape the options ask for; None for the default workload (--events)."""
    if args.shape:
        if args.policies or args.lines or args.claims_per_policy is not None:
            parser.error("--shape: names the policies and lines itself; give "
                         "--shape-lines, not --policies, --lines or --claims-per-policy")
        return SHAPES[args.shape].scaled(args.shape_lines or 100_000)
    if not (args.policies or args.lines or args.claims_per_policy is not None):
        if args.shape_lines:
            parser.error("--shape-lines: is for a named --shape")
        return None
    if not args.policies:
        parser.error("--policies: is required for a shaped file")
    if (args.lines is None) == (args.claims_per_policy is None):
        parser.error("--lines: give either --lines or --claims-per-policy")
    lines = args.lines
    if lines is None:
        if not 0 <= args.claims_per_policy <= 1000:
            parser.error("--claims-per-policy: must be from 0 to 1000")
        lines = round(args.policies * (1 + LINES_PER_CLAIM * args.claims_per_policy))
    shape = Shape(args.policies, lines, args.coverage, args.refused)
    problem = shape.problem()
    if problem:
        parser.error(problem)
    return shape


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    shape = _shape(parser, args)
    if shape is not None and args.events:
        parser.error("--events: is for the default workload, not with a shaped file")
    out = (iter(shaped(shape, args.seed)) if shape is not None
           else commands(args.events or 10_000, args.seed))
    try:
        for command in out:
            sys.stdout.write(json.dumps(command, ensure_ascii=False) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:  # the reader stopped early (`| head`): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


if __name__ == "__main__":
    sys.exit(main())
