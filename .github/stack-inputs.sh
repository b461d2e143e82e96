#!/usr/bin/env bash
# The two inputs a workflow cannot take from git: what `invoke train` wrote about the deployed endpoint
# (repository variable ENDPOINT_TFVARS_JSON) and the S3 state backend (TF_STATE_BUCKET, from backend.tf.example).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${ENDPOINT_TFVARS_JSON:?set the repository variable ENDPOINT_TFVARS_JSON (terraform/endpoint.auto.tfvars.json)}"
: "${TF_STATE_BUCKET:?set the repository variable TF_STATE_BUCKET (the S3 bucket of the state)}"
printf '%s\n' "$ENDPOINT_TFVARS_JSON" > terraform/endpoint.auto.tfvars.json
# The state bucket's region: TF_STATE_REGION when it lives elsewhere, else the stack's (configure-aws-credentials
# exports AWS_REGION).
region="${TF_STATE_REGION:-${AWS_REGION:?set AWS_REGION (the workflows take it from the repository variable)}}"
sed -e "s/CHANGE-ME-terraform-state/${TF_STATE_BUCKET}/" -e "s/CHANGE-ME-region/${region}/" \
  terraform/backend.tf.example > terraform/backend.tf
