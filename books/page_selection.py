"""Placeholder; the selection service follows."""


def page_job_finished(sender, *, job_id: str, status: str, **kwargs) -> None:
    return None
