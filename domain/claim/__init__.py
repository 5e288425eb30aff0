"""The Claim aggregate: one incident under one coverage, from filing to closing.

A claim is filed against the policy year its coverage's trigger points at (the
incident date for data/media, occurrence basis; the date the third party made
its claim for IT liability, claims-made basis), with the day and the way the
insurer was told (a notice more than 3 years after the incident is flagged,
never refused). It is re-assessed, denied by an exclusion (or an exclusion
takes part of its loss), paid (possibly in interim payouts), corrected by
reversal, closed or withdrawn; a denial is withdrawn and a closed claim
reopened by decisions of their own. Nothing is ever edited or deleted: every
change is a new event. Each decision is a pure function of the states it reads
and the command.

A claim filed with an ``incident_id`` is one of the claims of that incident
(``domain/incident.py``): its filing, re-assessments, exclusions, withdrawal,
withdrawn denial, payouts and reversals also write the incident's record,
which holds the deductible and the per-incident limit its claims share (the
loss a claim counts there is its assessed loss less what exclusions took of
it). A liability incident's claims are one series (一連の損害賠償請求): they
draw on the policy year of the first claim made, whatever their own
``claim_made_on``.

A claims office keeps a case reserve on each claim (``reserves``), pays in two
phases where an actor's authority calls for it (``holds``) and records money
that comes back (``recoveries``).

The package: ``events`` (what is recorded), ``state`` (the claim and
``evolve``), ``filing`` (``file_claim``), ``decisions`` (the decisions on a
filed claim), ``reserves``, ``holds`` and ``recoveries``. Callers use the names
below, from ``domain.claim`` (and the three modules by name).
"""

from domain.claim.decisions import (
    apply_exclusion,
    assess_loss,
    close_claim,
    deny,
    issue_payout,
    reopen_claim,
    reverse_payout,
    withdraw_claim,
    withdraw_denial,
)
from domain.claim.events import (
    ClaimClosed,
    ClaimEvent,
    ClaimFiled,
    ClaimReopened,
    ClaimWithdrawn,
    DenialWithdrawn,
    ExclusionApplied,
    LossAssessed,
    PartialExclusionApplied,
    PayoutApproved,
    PayoutIssued,
    PayoutRejected,
    PayoutRequested,
    PayoutReversed,
    RecoveryRecorded,
    ReserveSet,
)
from domain.claim.filing import file_claim, trigger_date
from domain.claim.state import (
    Claim,
    ClaimStatus,
    Hold,
    HoldStatus,
    Payout,
    Recovery,
    evolve,
    notice_time_barred,
    project,
    time_bar_ends,
)
from domain.ids import claim_id_of

__all__ = [
    "Claim",
    "ClaimClosed",
    "ClaimEvent",
    "ClaimFiled",
    "ClaimReopened",
    "ClaimStatus",
    "ClaimWithdrawn",
    "DenialWithdrawn",
    "ExclusionApplied",
    "Hold",
    "HoldStatus",
    "LossAssessed",
    "PartialExclusionApplied",
    "Payout",
    "PayoutApproved",
    "PayoutIssued",
    "PayoutRejected",
    "PayoutRequested",
    "PayoutReversed",
    "Recovery",
    "RecoveryRecorded",
    "ReserveSet",
    "apply_exclusion",
    "assess_loss",
    "claim_id_of",
    "close_claim",
    "deny",
    "evolve",
    "file_claim",
    "issue_payout",
    "notice_time_barred",
    "project",
    "reopen_claim",
    "reverse_payout",
    "time_bar_ends",
    "trigger_date",
    "withdraw_claim",
    "withdraw_denial",
]
