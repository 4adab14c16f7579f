"""The jobs seam: enqueue a job function by dotted path with ids; it runs after commit.

    from sanctum import jobs
    jobs.enqueue("sanctum.mail.jobs.send_mail", mail.id)
    db.session.commit()          # ← the job is handed to a worker here

With `SANCTUM_REDIS_URL` set the job goes to an RQ queue and a `sanctum worker`
process runs it; otherwise in-process worker threads run the same function. Every
job has a `JobRecord` row (queued → running → succeeded | failed) with attempts,
timings and the last error, whichever backend runs it.
"""
from sanctum.jobs.service import (
    JobError,
    current_job_id,
    enqueue,
    get_backend,
    init_app,
    register_periodic,
    report_progress,
    retry_job,
)

__all__ = ["JobError", "retry_job", "current_job_id", "enqueue", "get_backend", "init_app", "register_periodic", "report_progress"]
