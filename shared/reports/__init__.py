"""The failure report: failureReason parsing and hints (failure_reasons.py), the importErrors.log summary
(import_errors.py), the report model (report.py) and its Markdown (markdown.py)."""
