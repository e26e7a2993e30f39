"""Environment variables shared by the Lambda and the Dagster code location.

Terraform sets them on the Lambda; the same names configure Dagster.
"""

ENV_BUCKET = "LANDING_BUCKET"
ENV_PREFIX = "LANDING_PREFIX"
ENV_LOCAL_DIR = "LANDING_DIR"
ENV_BATCH_SIZE = "BATCH_SIZE"
ENV_DIRTY_RATE = "DIRTY_RATE"
ENV_FORMAT = "LANDING_FORMAT"
#: Every environment variable the handler reads.
LAMBDA_ENV_VARS = (
    ENV_BUCKET,
    ENV_PREFIX,
    ENV_LOCAL_DIR,
    ENV_BATCH_SIZE,
    ENV_DIRTY_RATE,
    ENV_FORMAT,
)
