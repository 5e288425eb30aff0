"""The API's reports: ``GET /reports/reserves`` (the year-end reserves report,
支払備金, as JSON or CSV)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import Response

from adapters.console import spreadsheet
from adapters.http.deps import READER, ServiceDep, query_time
from adapters.http.openapi import ERRORS
from adapters.http.problems import Problem
from adapters.service import reads
from adapters.service.auth import Caller
from projections.reserves_report import Basis, ReservesReport

router = APIRouter()

CSV = "text/csv; charset=utf-8"


@router.get("/reports/reserves", tags=["reports"], response_model=ReservesReport,
            responses={**ERRORS, 200: {
                "description": "the report (JSON), or its tables as CSV with `format=csv`",
                "content": {"text/csv": {"schema": {
                    "$ref": "#/components/schemas/ReservesCsv"}}}}})
def get_reserves_report(service: ServiceDep, as_of: str | None = None,
                        by: Basis = "accident-year", since: str | None = None,
                        format: Literal["json", "csv"] = "json",
                        _: Caller = READER) -> ReservesReport | Response:
    """The year-end reserves report (支払備金) as of a recorded time (default now):
    per coverage and accident year (or policy year, `by=policy-year`) the claims,
    open claims, claims without a reserve, paid in the period (from `since`,
    default the start of the fiscal year `as_of` falls in), paid to date, case
    reserves, held, recoveries and incurred, and the loss development triangle
    by accident year. Replayed from the log."""
    when = query_time(as_of, "as_of") or datetime.now(UTC)
    start = query_time(since, "since", end_of_day=False)
    if start is not None and start > when:
        message = f"is after as_of ({when.isoformat()})"
        raise Problem(400, "Invalid query", f"since: {message} [dates_in_order]", [
            {"field": "since", "rule": "dates_in_order", "message": message}])
    report = reads.reserves(service.ledger, when, by, start)
    if format == "csv":
        return Response(spreadsheet.reserves_csv(report), media_type=CSV, headers={
            "Content-Disposition": 'attachment; filename="reserves-report.csv"'})
    return report
