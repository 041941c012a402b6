-- At most one active job per (type, path): two submits racing each other
-- get one job, and the second is told about it.
CREATE UNIQUE INDEX jobs_one_active ON jobs (job_type, path)
    WHERE state IN ('WAITING', 'RUNNING', 'VERIFYING');
