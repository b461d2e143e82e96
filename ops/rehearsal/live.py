"""The applied stack's traffic, stood in for on 127.0.0.1, built from what apply.yml left in the emulator.

moto holds the distribution, the HTTP API and the function that apply.yml created, but its CloudFront and
API Gateway serve no traffic and it runs no Lambda (that needs Docker). So that apply.yml's last step,
``./dev smoke --target aws``, runs in the rehearsal as the workflow holds it, :func:`live_stack` answers
that gap and nothing else:

- CloudFront (:class:`EdgeStandIn`, the local edge of ops/local/site.py): plain HTTP, as there is no TLS
  here (smoke then skips its redirect check and says why, as on the local edge); each GET reads the object
  of the distribution's S3 origin from moto's bucket; each answer carries the security headers of its
  cache behaviour's response headers policy, as the emulator holds it; the paths of the behaviours whose
  origin is the HTTP API are forwarded to the API stand-in with that origin's custom headers
  (``x-origin-verify``);
- API Gateway + Lambda: the function's code as moto holds it, unpacked, its handler behind the local API
  (ops/local/api.py: HTTP API v2 events) in a process of its own (ops/rehearsal/lambda_runtime.py) with
  the function's environment from moto. moto serves no bytes at GetFunction's ``Code.Location``: the
  apply's ``build/lambda.zip`` is used when its SHA-256 and size are the function's, refused otherwise;
- the endpoint its handler calls (``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME``, the one variable replaced): a
  local endpoint (ops/local/endpoint.py) serving the model the deployed endpoint names (endpoint → config
  → model → ``ModelDataUrl``, read from moto's S3);
- S3 for anonymous requests (:class:`BucketStandIn`), which moto cannot answer for a bucket like the
  stack's: S3's rules applied to the bucket's policy, public access block, ownership and ACL in moto.

The stack is found from its Terraform outputs, read as the caller's role (the deploy role, as the smoke
step reads them on AWS). The smoke step gets the URLs as a user gives them (``DBP_SMOKE_URL``,
``DBP_SMOKE_API_URL``, ``DBP_SMOKE_BUCKET_URL``). docs/first-deploy.md says what this proves and what not.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import json
import subprocess
import sys
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from functools import partial
from http import HTTPStatus
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from ml.config import ROOT
from ml.errors import ProjectError
from ml.predict import Predictor
from ops.infra.iam_view import Call, allows, statements
from ops.infra.terraform import TerraformRunner
from ops.local.endpoint import EndpointServer, Response
from ops.local.http import BackgroundServer, LeanHandler
from ops.local.site import SiteHandler, SiteServer

LAMBDA_START_SECONDS = 60.0
WHY = "moto's CloudFront and API Gateway serve no traffic, it runs no Lambda and fails anonymous S3 reads"


class LiveStackError(ProjectError):
    """The applied stack cannot be stood in for: the message says what the emulator holds instead."""


@dataclass(frozen=True)
class Behaviour:
    """A cache behaviour of the distribution: its path pattern, its origin, the headers its policy adds."""

    pattern: str
    origin: str
    headers: dict[str, str]


def policy_headers(config: Mapping[str, Any]) -> dict[str, str]:
    """The response headers a ResponseHeadersPolicyConfig makes CloudFront add (its security headers and
    custom headers), by CloudFront's rules for each field."""
    security = config.get("SecurityHeadersConfig", {})
    headers: dict[str, str] = {}
    if hsts := security.get("StrictTransportSecurity"):
        headers["Strict-Transport-Security"] = (
            f"max-age={hsts['AccessControlMaxAgeSec']}"
            + ("; includeSubDomains" if hsts.get("IncludeSubdomains") else "")
            + ("; preload" if hsts.get("Preload") else "")
        )
    if csp := security.get("ContentSecurityPolicy"):
        headers["Content-Security-Policy"] = csp["ContentSecurityPolicy"]
    if "ContentTypeOptions" in security:
        headers["X-Content-Type-Options"] = "nosniff"
    if frame := security.get("FrameOptions"):
        headers["X-Frame-Options"] = frame["FrameOption"]
    if referrer := security.get("ReferrerPolicy"):
        headers["Referrer-Policy"] = referrer["ReferrerPolicy"]
    for item in config.get("CustomHeadersConfig", {}).get("Items", []):
        headers[item["Header"]] = item["Value"]
    return headers


class EdgeStandIn(SiteServer):
    """CloudFront for one distribution: objects from its S3 origin, its behaviours' headers, its API paths
    forwarded (``upstream``) with the API origin's custom headers."""

    name = "CloudFront stand-in"

    def __init__(self, s3: Any, bucket: str, root_object: str, behaviours: list[Behaviour], api: str) -> None:
        super().__init__(("127.0.0.1", 0))
        self.RequestHandlerClass = partial(_EdgeHandler, directory=str(ROOT / "site"))  # never read
        self.s3, self.bucket, self.root_object = s3, bucket, root_object
        self.behaviours, self.api_origin = behaviours, api

    def behaviour(self, path: str) -> Behaviour:
        """The first behaviour whose pattern matches ``path`` (the last one is the default, ``*``)."""
        path = path.partition("?")[0]
        return next(b for b in self.behaviours if fnmatch.fnmatchcase(path, b.pattern))

    def response_headers(self, path: str) -> dict[str, str]:
        return self.behaviour(path).headers

    def forwarded(self, path: str) -> bool:
        return self.behaviour(path).origin == self.api_origin


class _EdgeHandler(SiteHandler):
    """GET and HEAD of a site path read the bucket's object; the API paths are forwarded."""

    server: EdgeStandIn

    def do_GET(self) -> None:
        if self.server.forwarded(self.path):
            self._forward()
            return
        body = self._object()
        if body is not None and self.command == "GET":
            self.wfile.write(body)

    def do_HEAD(self) -> None:
        self.do_GET()

    def _object(self) -> bytes | None:
        """Send the status and headers of the bucket's object for this path; its body, or None."""
        key = self.path.partition("?")[0].lstrip("/") or self.server.root_object
        try:
            found = self.server.s3.get_object(Bucket=self.server.bucket, Key=key)
        except ClientError as error:  # with origin access control, a missing key is S3's 403
            self.send_error(error.response["ResponseMetadata"]["HTTPStatusCode"])
            return None
        body: bytes = found["Body"].read()
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", found.get("ContentType", "binary/octet-stream"))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return body


def everyone(statement: Mapping[str, Any]) -> bool:
    """Whether a bucket-policy statement names every principal, the anonymous one included."""
    principal = statement.get("Principal")
    named = principal.get("AWS", []) if isinstance(principal, dict) else principal
    return "*" in ([named] if isinstance(named, str) else named or [])


def anonymous_read(s3: Any, bucket: str, key: str) -> bool:
    """Whether S3 lets an anonymous GET of ``key`` through, from the bucket's configuration in the emulator:
    a policy statement for everyone allows it (its conditions not evaluated: the stricter reading) and the
    public access block does not restrict public policies, or a public-read object ACL the block does not
    ignore and the ownership controls do not disable."""
    try:
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    except ClientError:
        block = {}
    try:
        policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    except ClientError:
        policy = {"Statement": []}
    public = [statement for statement in statements(policy) if everyone(statement)]
    by_policy = allows([{"Statement": public}], Call("s3:GetObject", f"arn:aws:s3:::{bucket}/{key}"))
    if by_policy and not block.get("RestrictPublicBuckets"):
        return True
    try:
        owned = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"]
    except ClientError:
        owned = []
    if block.get("IgnorePublicAcls") or any(r["ObjectOwnership"] == "BucketOwnerEnforced" for r in owned):
        return False
    grants = s3.get_object_acl(Bucket=bucket, Key=key)["Grants"]
    return any(g["Grantee"].get("URI", "").endswith("/global/AllUsers") for g in grants)


class BucketStandIn(BackgroundServer):
    """S3's answer to anonymous GETs of ``/<bucket>/<key>`` (:func:`anonymous_read`): with IAM enforced
    moto answers an unsigned GET of a bucket whose policy grants the distribution 500 and, without, lets it
    through whenever any statement allows ``s3:GetObject``, whoever its principal."""

    name = "S3 stand-in (anonymous requests)"

    def __init__(self, s3: Any) -> None:
        super().__init__(("127.0.0.1", 0), _BucketHandler)
        self.s3 = s3


class _BucketHandler(LeanHandler):
    server: BucketStandIn

    def respond(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Response:
        bucket, _, key = path.partition("?")[0].lstrip("/").partition("/")
        s3 = self.server.s3
        if method == "GET" and key and anonymous_read(s3, bucket, key):
            found = s3.get_object(Bucket=bucket, Key=key)
            return HTTPStatus.OK, found.get("ContentType", "binary/octet-stream"), {}, found["Body"].read()
        denied = b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"
        return HTTPStatus.FORBIDDEN, "application/xml", {}, denied


@dataclass(frozen=True)
class LiveStack:
    """The stand-ins' URLs, as a user gives them to ``invoke smoke`` (``env``), and the line that says so."""

    site_url: str
    api_url: str
    bucket_url: str

    @property
    def env(self) -> dict[str, str]:
        return {
            "DBP_SMOKE_URL": self.site_url,
            "DBP_SMOKE_API_URL": self.api_url,
            "DBP_SMOKE_BUCKET_URL": self.bucket_url,
        }

    def line(self) -> str:
        return (
            f"stand-in: CloudFront at {self.site_url}, API Gateway + Lambda (+ its endpoint) at "
            f"{self.api_url}, anonymous S3 at {self.bucket_url}, built from the applied stack in moto: {WHY}"
        )


def function_code(lambda_: Any, function: str, candidate: Path, folder: Path) -> dict[str, Any]:
    """Unpack the function's code into ``folder`` (``candidate`` when it is the code moto holds: moto
    serves no bytes at GetFunction's ``Code.Location``); its configuration."""
    config: dict[str, Any] = lambda_.get_function(FunctionName=function)["Configuration"]
    data = candidate.read_bytes() if candidate.is_file() else b""
    digest = base64.b64encode(hashlib.sha256(data).digest()).decode()
    if (digest, len(data)) != (config["CodeSha256"], config["CodeSize"]):
        raise LiveStackError(
            f"function {function}'s code (CodeSha256 {config['CodeSha256']}) is not {candidate}: the "
            "emulator serves no code to download, so the stand-in runs only the zip the apply uploaded"
        )
    with zipfile.ZipFile(candidate) as archive:
        archive.extractall(folder)
    return config


def deployed_model(sagemaker: Any, s3: Any, endpoint: str, folder: Path) -> Predictor:
    """The model the endpoint ``endpoint`` serves: endpoint → config → model → ModelDataUrl, from S3."""
    config_name = sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]
    variants = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)["ProductionVariants"]
    model = sagemaker.describe_model(ModelName=variants[0]["ModelName"])["PrimaryContainer"]["ModelDataUrl"]
    bucket, _, key = model.removeprefix("s3://").partition("/")
    folder.mkdir(parents=True, exist_ok=True)
    s3.download_file(bucket, key, str(folder / "model.tar.gz"))
    return Predictor.from_archive(folder / "model.tar.gz", folder / "model")


def distribution(cloudfront: Any, distribution_id: str) -> tuple[dict[str, Any], list[Behaviour]]:
    """The distribution's config and its behaviours in CloudFront's order (ordered ones, then the
    default), each with the headers of its response headers policy."""
    config: dict[str, Any] = cloudfront.get_distribution_config(Id=distribution_id)["DistributionConfig"]
    ordered = config.get("CacheBehaviors", {}).get("Items", [])
    behaviours = []
    for item in [*ordered, {**config["DefaultCacheBehavior"], "PathPattern": "*"}]:
        policy_id = item.get("ResponseHeadersPolicyId")
        policy = (
            cloudfront.get_response_headers_policy(Id=policy_id)["ResponseHeadersPolicy"] if policy_id else {}
        )
        headers = policy_headers(policy.get("ResponseHeadersPolicyConfig", {}))
        behaviours.append(Behaviour(item["PathPattern"], item["TargetOriginId"], headers))
    return config, behaviours


@contextmanager
def lambda_process(code: Path, environment: dict[str, str], origins: list[str], log: Path) -> Iterator[str]:
    """The function's handler behind the local API in a process of its own, in ``environment``; its URL."""
    with log.open("a", encoding="utf-8") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "ops.rehearsal.lambda_runtime", str(code), json.dumps(origins)],
            cwd=ROOT,
            env=environment,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=out,
            text=True,
        )
    try:
        assert process.stdout is not None and process.stdin is not None
        url = process.stdout.readline().strip()
        if not url.startswith("http://"):
            raise LiveStackError(f"the Lambda stand-in did not start (exit {process.poll()}; log: {log})")
        yield url
    finally:
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(LAMBDA_START_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def live_stack(clients: Any, checkout: Path, env: Mapping[str, str], workdir: Path) -> Iterator[LiveStack]:
    """The stand-ins of the stack applied from ``checkout`` (its outputs read with ``env``'s role), built
    from the emulator (``clients``: service name -> boto3 client of the administrator) and served until
    the context ends."""
    runner = TerraformRunner(checkout / "terraform", checkout / "build" / "terraform.rc", env=env)
    outputs = runner.outputs()
    cloudfront, lambda_, s3 = (clients(name) for name in ("cloudfront", "lambda", "s3"))
    config, behaviours = distribution(cloudfront, outputs["distribution_id"])
    origins = {origin["Id"]: origin for origin in config["Origins"]["Items"]}
    api_host = outputs["api_url"].removeprefix("https://").rstrip("/")
    api = next((o for o in origins.values() if o["DomainName"] == api_host), None)
    if api is None:
        raise LiveStackError(f"the distribution has no origin for the stack's API {outputs['api_url']}")
    site = origins[behaviours[-1].origin]  # the default behaviour's: the bucket
    function = function_code(
        lambda_, outputs["lambda_function_name"], checkout / "build" / "lambda.zip", workdir / "lambda-code"
    )
    variables: dict[str, str] = function.get("Environment", {}).get("Variables", {})
    predictor = deployed_model(clients("sagemaker"), s3, variables["ENDPOINT_NAME"], workdir / "endpoint")
    with ExitStack() as stack:
        endpoint = EndpointServer(("127.0.0.1", 0), predictor, variables["ENDPOINT_NAME"])
        endpoint.start()
        stack.callback(endpoint.server_close)
        stack.callback(endpoint.shutdown)
        region = function["FunctionArn"].split(":")[3]
        runtime = {
            **{k: v for k, v in env.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")},
            **variables,
            "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": endpoint.url,
            "AWS_LAMBDA_FUNCTION_NAME": function["FunctionName"],
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_ACCESS_KEY_ID": "lambda-stand-in",  # the role's in AWS; the endpoint here checks none
            "AWS_SECRET_ACCESS_KEY": "lambda-stand-in",
            "PYTHONPATH": str(ROOT),
        }
        cors = clients("apigatewayv2").get_api(ApiId=api_host.split(".")[0]).get("CorsConfiguration", {})
        code, log = workdir / "lambda-code", workdir / "lambda.log"
        api_url = stack.enter_context(lambda_process(code, runtime, cors.get("AllowOrigins", []), log))
        bucket = site["DomainName"].split(".s3.")[0]
        root = config.get("DefaultRootObject") or "index.html"
        edge = EdgeStandIn(s3, bucket, root, behaviours, api["Id"])
        edge.upstream = api_url
        custom = api.get("CustomHeaders", {}).get("Items", [])
        edge.origin_headers = {header["HeaderName"]: header["HeaderValue"] for header in custom}
        edge.start()
        stack.callback(edge.server_close)
        stack.callback(edge.shutdown)
        anonymous = BucketStandIn(s3)
        anonymous.start()
        stack.callback(anonymous.server_close)
        stack.callback(anonymous.shutdown)
        yield LiveStack(edge.url + "/", api_url, f"{anonymous.url}/{outputs['site_bucket_name']}")
