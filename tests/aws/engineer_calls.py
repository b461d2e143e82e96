"""Every AWS call the ML engineer's commands make, with the ARN each names (for the policy check)."""

from __future__ import annotations

from ml.aws import train as sm
from ml.aws.deploy import resource_names
from ml.aws.transform import JOB_PREFIX as TRANSFORM_PREFIX
from ml.aws.tune import JOB_PREFIX as JOB_PREFIX_TUNE
from ops.settings import Settings

from .conftest import ACCOUNT, REGION

ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/dbpedia-classifier-sagemaker-execution"  # the bootstrap's


def engineer_calls(settings: Settings) -> list[tuple[str, str]]:
    """(IAM action, ARN) of what train, tune, approve, rollback, classify and preflight call, on the names
    the code gives (the calls a recorded moto run of train and tune makes, plus the AWS-only ones: log
    streaming, UpdateEndpoint, the alarms' state)."""
    sha = "ab" * 32
    model, config = resource_names(settings, sha)
    sm_arn, bucket = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}", f"sagemaker-{REGION}-{ACCOUNT}"
    training = f"{sm_arn}:training-job/{sm.JOB_PREFIX}-{'0' * 16}-2026-12-07-05-00-00-000"
    logs = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{sm.LOG_GROUP}"
    return [
        ("s3:ListAllMyBuckets", "*"),
        *[(a, f"arn:aws:s3:::{bucket}") for a in ("s3:CreateBucket", "s3:ListBucket")],
        *[
            (a, f"arn:aws:s3:::{bucket}/dbpedia-classifier/{key}")
            for a in ("s3:GetObject", "s3:PutObject")
            for key in (
                "data/k/train/train.txt",
                "output/job/output/model.tar.gz",
                "transform/k/input/in.jsonl",
            )
        ],
        *[
            (a, "*")
            for a in (
                "sagemaker:ListTrainingJobs",
                "sagemaker:ListTransformJobs",
                "sagemaker:ListModelPackages",
            )
        ],
        *[(f"sagemaker:{a}", training) for a in ("CreateTrainingJob", "DescribeTrainingJob", "AddTags")],
        (
            "sagemaker:CreateHyperParameterTuningJob",
            f"{sm_arn}:hyper-parameter-tuning-job/{JOB_PREFIX_TUNE}-2612070500",
        ),
        *[
            (f"logs:{a}", f"{logs}:log-stream:x/algo-1")
            for a in ("DescribeLogStreams", "GetLogEvents", "FilterLogEvents")
        ],
        *[
            (f"sagemaker:{a}", f"{sm_arn}:model-package-group/dbpedia-classifier")
            for a in ("CreateModelPackageGroup", "DescribeModelPackageGroup")
        ],
        *[
            (f"sagemaker:{a}", f"{sm_arn}:model-package/dbpedia-classifier/1")
            for a in ("CreateModelPackage", "DescribeModelPackage", "UpdateModelPackage")
        ],
        *[
            (f"sagemaker:{a}", f"{sm_arn}:model/{model}")
            for a in ("CreateModel", "DescribeModel", "DeleteModel", "CreateTransformJob")
        ],
        *[
            (f"sagemaker:{a}", f"{sm_arn}:endpoint-config/{config}")
            for a in (
                "CreateEndpointConfig",
                "DescribeEndpointConfig",
                "DeleteEndpointConfig",
                "CreateEndpoint",
                "UpdateEndpoint",
            )
        ],
        *[
            (f"sagemaker:{a}", f"{sm_arn}:endpoint/dbpedia-classifier")
            for a in ("CreateEndpoint", "DescribeEndpoint", "UpdateEndpoint")
        ],
        *[
            (f"sagemaker:{a}", f"{sm_arn}:transform-job/{TRANSFORM_PREFIX}-{'0' * 16}-1")
            for a in ("CreateTransformJob", "DescribeTransformJob")
        ],
        ("cloudwatch:DescribeAlarmsForMetric", "*"),
        (
            "cloudwatch:DescribeAlarms",
            f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:dbpedia-classifier-endpoint-5xx",
        ),
        *[(a, ROLE_ARN) for a in ("iam:GetRole", "iam:SimulatePrincipalPolicy")],
        *[(f"servicequotas:{a}", "*") for a in ("ListServiceQuotas", "ListAWSDefaultServiceQuotas")],
    ]
