# Inputs, alphabetical. `invoke train` writes aws_region, endpoint_arn, endpoint_capacity, endpoint_name,
# model_sha256, model_store_uri and sagemaker_runtime_url to endpoint.auto.tfvars.json; `invoke infra` and `invoke plan` pass lambda_zip_path,
# site_dir, autoscaling and alarm_email from the settings (ops/settings.py).

variable "alarm_email" {
  type        = string
  description = "E-mail address subscribed to the alarm topic (AWS sends a confirmation mail first); empty: no subscription."
  default     = ""

  validation {
    condition     = var.alarm_email == "" || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.alarm_email))
    error_message = "alarm_email must be an e-mail address, or empty for no subscription."
  }
}

variable "alarms" {
  type = object({
    api_5xx_percent      = optional(number, 5)
    endpoint_5xx_errors  = optional(number, 0)
    evaluation_periods   = optional(number, 1)
    lambda_errors        = optional(number, 0)
    lambda_throttles     = optional(number, 0)
    model_latency_p99_ms = optional(number, 500)
    period_seconds       = optional(number, 300)
  })
  description = "Alarm thresholds (an alarm fires above its threshold): API 5xx % of requests, endpoint 5xx and Lambda errors/throttles per period, endpoint p99 model latency in ms; the period and how many periods in a row."
  default     = {}

  validation {
    condition = alltrue([
      for value in values(var.alarms) : value >= 0
    ]) && var.alarms.period_seconds % 60 == 0 && var.alarms.period_seconds > 0 && var.alarms.evaluation_periods >= 1
    error_message = "alarms: thresholds must be 0 or more, period_seconds a positive multiple of 60, evaluation_periods at least 1."
  }
}

variable "autoscaling" {
  type = object({
    max_instances                   = optional(number, 2)
    scale_in_cooldown_seconds       = optional(number, 300)
    scale_out_cooldown_seconds      = optional(number, 60)
    target_invocations_per_instance = optional(number, 600)
  })
  description = "Autoscaling of an instance-backed endpoint (ignored when serverless): at most max_instances, tracking target_invocations_per_instance per minute, with the cooldowns; the floor is endpoint_capacity.instance_count."
  default     = {}

  validation {
    condition     = var.autoscaling.max_instances >= coalesce(var.endpoint_capacity.instance_count, 1)
    error_message = "autoscaling.max_instances must be at least endpoint_capacity.instance_count (the instances the endpoint was deployed with)."
  }

  validation {
    condition     = var.autoscaling.target_invocations_per_instance >= 1 && var.autoscaling.scale_in_cooldown_seconds >= 0 && var.autoscaling.scale_out_cooldown_seconds >= 0
    error_message = "autoscaling.target_invocations_per_instance must be at least 1 and the cooldowns 0 or more seconds."
  }
}

variable "aws_region" {
  type        = string
  description = "AWS region of every resource in this stack and of the SageMaker endpoint."
}

variable "cloudfront_price_class" {
  type        = string
  description = "CloudFront price class: which edge locations serve the site (PriceClass_100: North America and Europe, the cheapest)."
  default     = "PriceClass_100"

  validation {
    condition     = contains(["PriceClass_100", "PriceClass_200", "PriceClass_All"], var.cloudfront_price_class)
    error_message = "cloudfront_price_class must be PriceClass_100, PriceClass_200 or PriceClass_All."
  }
}

variable "cors" {
  type = object({
    allow_headers   = optional(list(string), ["content-type"])
    extra_origins   = optional(list(string), [])
    max_age_seconds = optional(number, 300)
  })
  description = "CORS of the API: the site's own origin is always allowed; extra_origins adds more (e.g. http://localhost:8000)."
  default     = {}

  validation {
    condition     = alltrue([for origin in var.cors.extra_origins : can(regex("^https?://[^/*]+$", origin))])
    error_message = "cors.extra_origins must be origins like https://example.org (scheme and host, optional port): no path, no trailing slash, no \"*\"."
  }

  validation {
    condition     = var.cors.max_age_seconds >= 0 && var.cors.max_age_seconds <= 86400
    error_message = "cors.max_age_seconds must be between 0 and 86400 (API Gateway's limit)."
  }
}

variable "domain_name" {
  type        = string
  description = "Custom domain of the site (e.g. classify.example.org): an ACM certificate in us-east-1, DNS-validated; empty: the distribution's cloudfront.net name."
  default     = ""

  validation {
    condition     = var.domain_name == "" || can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.domain_name))
    error_message = "domain_name must be a lower-case host name such as classify.example.org (no scheme, no trailing dot), or empty."
  }
}

variable "drift_band" {
  type = object({
    labels          = map(object({ high = number, low = number, low_answers = optional(number) }))
    min_day_answers = number
    unknown_text    = object({ high = number, low = number, low_answers = optional(number) })
  })
  description = "The band of the live metrics' drift alarms (drift.tf), as `invoke train` measured it on the validation split and the deployed version's manifest records it (ml/drift.py): shares from 0 to 1 of the answers without a label and of each label among the labelled ones. high is judged on a day of at least min_day_answers answers; low on a week of at least low_answers answers (null, or a band recorded before it: the low side is not judged). The default judges nothing."
  default = {
    labels          = {}
    min_day_answers = 100
    unknown_text    = { high = 1, low = 0 }
  }

  validation {
    condition = alltrue([
      for band in concat([var.drift_band.unknown_text], values(var.drift_band.labels)) : 0 <= band.low && band.low <= band.high && band.high <= 1 && (band.low_answers == null ? true : band.low_answers >= 1)
    ]) && var.drift_band.min_day_answers >= 1
    error_message = "drift_band: every low and high must satisfy 0 <= low <= high <= 1, every low_answers must be null or at least 1, and min_day_answers must be at least 1."
  }
}

variable "endpoint_arn" {
  type        = string
  description = "ARN of the one SageMaker endpoint the Lambda may invoke."

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:[0-9]{12}:endpoint/[a-zA-Z0-9-]+$", var.endpoint_arn))
    error_message = "endpoint_arn must be the ARN of a single SageMaker endpoint (arn:aws:sagemaker:REGION:ACCOUNT:endpoint/NAME), without wildcards."
  }
}

variable "endpoint_capacity" {
  type = object({
    instance_count  = optional(number)
    instance_type   = optional(string)
    max_concurrency = optional(number)
    memory_mb       = optional(number)
    mode            = string
  })
  description = "How `invoke train` deployed the endpoint: mode \"instance\" with instance_type and instance_count (the autoscaling floor), or \"serverless\" with memory_mb and max_concurrency."

  validation {
    condition     = contains(["instance", "serverless"], var.endpoint_capacity.mode)
    error_message = "endpoint_capacity.mode must be \"instance\" or \"serverless\"."
  }

  validation {
    condition     = var.endpoint_capacity.mode != "instance" || coalesce(var.endpoint_capacity.instance_count, 0) >= 1
    error_message = "an instance-backed endpoint_capacity needs instance_count of at least 1."
  }
}

variable "endpoint_name" {
  type        = string
  description = "Name of the SageMaker endpoint, passed to the Lambda as ENDPOINT_NAME."

  validation {
    condition     = can(regex("^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$", var.endpoint_name))
    error_message = "endpoint_name must be a SageMaker endpoint name: 1-63 letters, digits and hyphens, not starting or ending with a hyphen."
  }
}

variable "feedback_retention_days" {
  type        = number
  description = "Days a visitor's feedback is kept in the feedback bucket before its lifecycle rule expires it (docs/feedback.md). `invoke infra` passes the setting feedback_retention_days."
  default     = 90

  validation {
    condition     = var.feedback_retention_days >= 1 && floor(var.feedback_retention_days) == var.feedback_retention_days
    error_message = "feedback_retention_days must be a whole number of days, at least 1."
  }
}

variable "force_destroy" {
  type        = bool
  description = "Let `terraform destroy` delete the site bucket even when it holds objects Terraform does not manage."
  default     = false
}

variable "hosted_zone_id" {
  type        = string
  description = "Route 53 hosted zone of domain_name: when set, the certificate's validation records and an alias to the distribution are created there; empty: you create them."
  default     = ""

  validation {
    condition     = var.hosted_zone_id == "" || can(regex("^[A-Z0-9]{1,32}$", var.hosted_zone_id))
    error_message = "hosted_zone_id must be a Route 53 zone id (upper-case letters and digits, e.g. Z0123456789ABCDEFGHIJ), or empty."
  }
}

variable "lambda_memory_mb" {
  type        = number
  description = "Memory of the Lambda function, in MB."
  default     = 256

  validation {
    condition     = var.lambda_memory_mb >= 128 && var.lambda_memory_mb <= 10240
    error_message = "lambda_memory_mb must be between 128 and 10240."
  }
}

variable "lambda_settings" {
  type = object({
    endpoint_max_attempts    = number
    endpoint_timeout_seconds = number
    explain_max_words        = number
    feedback                 = number
    max_text_chars           = number
    min_known_percent        = number
    n_labels                 = number
    top_k                    = number
  })
  description = "What the Lambda reads from its environment, each as its upper-cased name (TOP_K ...): answers' top-k size, longest text in characters, one endpoint call's read timeout in seconds, endpoint attempts, the share of topical words below which it gives no label, the most words an explanation weighs, whether POST /feedback is on (1) or answers 404 (0), and the deployed model's class count (the bound on a request's k). `invoke infra` passes the values declared once in the settings (ops/settings.py LAMBDA_SETTINGS) and the count from the deployed version's manifest, as the local stack does."

  validation {
    condition     = var.lambda_settings.n_labels >= 2 && floor(var.lambda_settings.n_labels) == var.lambda_settings.n_labels
    error_message = "lambda_settings.n_labels must be the deployed model's class count, a whole number of at least 2: run `invoke train`."
  }
}

variable "lambda_timeout_seconds" {
  type        = number
  description = "Timeout of the Lambda function, in seconds; at most 30, the HTTP API's integration limit. The default leaves room for the handler's bounded retries (3 attempts of at most 2 s connect + 4 s read)."
  default     = 25

  validation {
    condition     = var.lambda_timeout_seconds >= 1 && var.lambda_timeout_seconds <= 30
    error_message = "lambda_timeout_seconds must be between 1 and 30: API Gateway gives up on an integration after 30 s."
  }
}

variable "lambda_zip_path" {
  type        = string
  description = "Path of the Lambda deployment zip that ops/infra/lambda_zip.py builds (build/lambda.zip), relative to where Terraform runs: the state holds the same path in every checkout."
}

variable "log_level" {
  type        = string
  description = "LOG_LEVEL of the Lambda function."
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be one of DEBUG, INFO, WARNING, ERROR."
  }
}

variable "log_retention_days" {
  type        = number
  description = "Days CloudWatch keeps the Lambda's logs and the API's access logs."
  default     = 14

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of the values CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)."
  }
}

variable "model_card" {
  type        = string
  description = "The deployed version's model card as an HTML page (ml/model_card.py), served with the site as model-card.html (\"About this model\"); empty: none is uploaded."
  default     = ""
}

variable "model_sha256" {
  type        = string
  description = "sha256 of the deployed model.tar.gz (`invoke train` writes it): the vocabulary in the Lambda zip must name this model, or the Lambda answers 500 not_configured."

  validation {
    condition     = can(regex("^[0-9a-f]{64}$", var.model_sha256))
    error_message = "model_sha256 must be the 64 hex digits of the deployed model archive's sha256: run `invoke train`."
  }
}

variable "model_store_uri" {
  type        = string
  description = "Where `invoke train --target aws` stored the model's deploy inputs (s3://BUCKET/PREFIX/models; `invoke plan` and `invoke infra` fetch <model_sha256>/vocabulary.txt.gz from there when build/ lacks it, as on a CI runner). Read by those tasks, not by a resource; empty for the local target."
  default     = ""

  validation {
    condition     = var.model_store_uri == "" || can(regex("^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[^/]+)*$", var.model_store_uri))
    error_message = "model_store_uri must be an S3 folder such as s3://my-bucket/dbpedia-classifier/models (no trailing slash), or empty."
  }
}

variable "name" {
  type        = string
  description = "Name of the function, role, API and log groups, and prefix of the site bucket."
  default     = "dbpedia-classifier"

  # The site bucket's bucket_prefix "<name>-site-" may have 37 characters (S3's 63 less Terraform's 26).
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,29}[a-z0-9]$", var.name))
    error_message = "name must be 3-31 lower-case letters, digits and hyphens (the site bucket's prefix <name>-site- has at most 37 characters)."
  }
}

variable "sagemaker_runtime_url" {
  type        = string
  description = "Base URL of the SageMaker runtime the Lambda calls (AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME)."

  validation {
    condition     = can(regex("^https?://[^/]+$", var.sagemaker_runtime_url))
    error_message = "sagemaker_runtime_url must be a base URL such as https://runtime.sagemaker.us-east-1.amazonaws.com, without path."
  }
}

variable "site_dir" {
  type        = string
  description = "Folder of the static site, relative to where Terraform runs: every file but *.tftpl is uploaded, and config.js is rendered from config.js.tftpl."
}

variable "site_page" {
  type        = string
  description = "What the page shows of the deployed model, as JSON (ml/page.py: its labels' names, descriptions and example texts, from labels.json beside the data or drawn from the validation split). `invoke infra` passes the deployed version's page.json; rendered into config.js."

  validation {
    condition     = can(tolist(jsondecode(var.site_page).labels))
    error_message = "site_page must be JSON with a list of labels (ml/page.py): run `invoke train`."
  }
}

variable "tags" {
  type        = map(string)
  description = "Extra tags for every resource, on top of Project and ManagedBy."
  default     = {}
}

variable "throttling" {
  type = object({
    burst_limit = optional(number, 20)
    rate_limit  = optional(number, 10)
  })
  description = "Throttling of the API's $default stage: burst size and steady requests per second."
  default     = {}

  validation {
    condition     = var.throttling.burst_limit > 0 && var.throttling.rate_limit > 0
    error_message = "throttling.burst_limit and throttling.rate_limit must be positive (zero would reject every request)."
  }
}

variable "waf" {
  type = object({
    common_rules = optional(bool, false)
    rate_limit   = optional(number, 300)
  })
  description = "The web ACL on the distribution: rate_limit is how many POST /classify one client IP may send in 5 minutes before it is blocked; common_rules adds AWS's managed common rule set (billed as one more rule)."
  default     = {}

  validation {
    condition     = var.waf.rate_limit >= 10 && var.waf.rate_limit <= 2000000000 && floor(var.waf.rate_limit) == var.waf.rate_limit
    error_message = "waf.rate_limit must be a whole number from 10 (WAF's minimum) to 2000000000."
  }
}
