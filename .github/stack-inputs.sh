#!/usr/bin/env bash
# The two inputs a workflow cannot take from git: what `invoke train` wrote about the deployed endpoint
# (repository variable ENDPOINT_TFVARS_JSON) and the S3 state backend (TF_STATE_BUCKET, from backend.tf.example).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${ENDPOINT_TFVARS_JSON:?set the repository variable ENDPOINT_TFVARS_JSON (terraform/endpoint.auto.tfvars.json)}"
: "${TF_STATE_BUCKET:?set the repository variable TF_STATE_BUCKET (the S3 bucket of the state)}"
printf '%s\n' "$ENDPOINT_TFVARS_JSON" > terraform/endpoint.auto.tfvars.json
sed "s/CHANGE-ME-terraform-state/${TF_STATE_BUCKET}/" terraform/backend.tf.example > terraform/backend.tf
